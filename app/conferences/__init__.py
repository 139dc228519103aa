"""Conference and participant state over a shared, durable store: the domain every dialect drives."""
