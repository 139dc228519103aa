"""MCU API 2.9 conference and participant control over a shared, durable store."""
