"""A throw-away PostgreSQL schema in database ``test`` (127.0.0.1:5432, trust auth) for one test."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from app.storage.migrate import upgrade

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


async def _run(*statements: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_schema_url(prefix: str) -> Iterator[str]:
    """A fresh role whose search_path is its own fresh schema; role and schema are dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(
        _run(
            f"CREATE ROLE {name} LOGIN",
            f"CREATE SCHEMA {name} AUTHORIZATION {name}",
            f"ALTER ROLE {name} SET search_path = {name}",
        )
    )
    try:
        yield f"postgresql+asyncpg://{name}@127.0.0.1:5432/test"
    finally:
        asyncio.run(_run(f"DROP SCHEMA {name} CASCADE", f"DROP OWNED BY {name}", f"DROP ROLE {name}"))


def database_url(request: pytest.FixtureRequest, sqlite_file: Path) -> str:
    """For a fixture parametrized ``["sqlite", "postgresql"]``: an empty database (``postgres_url`` for the latter)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{sqlite_file}"
    return str(request.getfixturevalue("postgres_url"))


def migrated_database_url(request: pytest.FixtureRequest, sqlite_file: Path) -> str:
    """For a fixture parametrized ``["sqlite", "postgresql"]``: a database at every migration head."""
    url = database_url(request, sqlite_file)
    upgrade(url)
    return url
