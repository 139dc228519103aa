"""Global settings changed while the service runs (Pexip's legacy_api_* fields), stored in the database."""
