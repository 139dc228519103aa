"""Alembic environment: runs migrations over the service's async engine, one migrator at a time."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.storage.base import Base
from app.storage.database import create_engine

# Import every model module so autogenerate sees the whole schema.
from app.storage.models import load_all_models

load_all_models()
target_metadata = Base.metadata

# Serialises concurrent starts of several instances on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6164686F63  # "adhoc"


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


asyncio.run(_migrate(context.config.attributes["database_url"]))
