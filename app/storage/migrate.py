"""Applies the Alembic migrations (every branch head) before the service serves; safe to run concurrently."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = url
    return config


def upgrade(url: str) -> None:
    """Bring the schema to every head. Domain packages own their branches (conferences, sip_credentials)."""
    command.upgrade(alembic_config(url), "heads")
