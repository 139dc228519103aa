"""``InsertReturningId`` and ``UpdateReturning`` on SQLite and on PostgreSQL, through ``Database.run_core``.

On PostgreSQL they are ``RETURNING`` statements; on SQLite the same answers come from the statement without
the clause (the last rowid; a ``SELECT`` after the ``UPDATE``), which is what the SQLite trace shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, bindparam, select, update

from app.storage.database import Database
from app.storage.prepared import InsertReturningId, UpdateReturning
from tests.support.postgres import database_url, fresh_schema_url

METADATA = MetaData()
COUNTER = Table(
    "prepared_counter",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("label", String(16), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("total", Integer, nullable=False),
)
ROW = COUNTER.c.id == bindparam("row_id")
INSERT = InsertReturningId(COUNTER, ["label", "revision", "total"])
BUMP = UpdateReturning(
    update(COUNTER)
    .where(ROW, COUNTER.c.total + bindparam("delta") <= bindparam("limit"))
    .values(revision=COUNTER.c.revision + 1, total=COUNTER.c.total + bindparam("delta")),
    [COUNTER.c.revision, COUNTER.c.total],
    select(COUNTER.c.revision, COUNTER.c.total).where(ROW),
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_schema_url("adhoc_prepared") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, tmp_path / "prepared.db")


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    await db.run_core(METADATA.create_all)
    try:
        yield db
    finally:
        await db.dispose()


def _insert(label: str) -> Any:
    def unit(connection: Connection) -> int:
        return INSERT.run(connection, {"label": label, "revision": 0, "total": 0})

    return unit


def _bump(row_id: int, delta: int, limit: int) -> Any:
    def unit(connection: Connection) -> tuple[Any, ...] | None:
        return BUMP.first(connection, {"row_id": row_id, "delta": delta, "limit": limit})

    return unit


def _rows(connection: Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(select(COUNTER).order_by(COUNTER.c.id))]


async def test_insert_answers_the_new_rows_key(database: Database) -> None:
    first = await database.run_core(_insert("a"))
    second = await database.run_core(_insert("b"))
    assert second > first
    rows = await database.run_core(_rows, write=False)
    assert rows == [(first, "a", 0, 0), (second, "b", 0, 0)]


async def test_update_answers_the_updated_row_or_none_when_nothing_matched(database: Database) -> None:
    row_id = await database.run_core(_insert("c"))
    assert await database.run_core(_bump(row_id, 2, 3)) == (1, 2)
    assert await database.run_core(_bump(row_id, 2, 3)) is None  # 2 + 2 > 3: no row changed
    assert await database.run_core(_bump(row_id + 1, 1, 3)) is None  # no such row
    assert await database.run_core(_bump(row_id, 1, 3)) == (2, 3)
    assert await database.run_core(_rows, write=False) == [(row_id, "c", 2, 3)]


async def test_sqlite_runs_them_without_returning(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}")
    await db.run_core(METADATA.create_all)
    statements: list[str] = []

    def traced(connection: Connection) -> tuple[Any, ...] | None:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        driver.set_trace_callback(statements.append)
        try:
            row_id = INSERT.run(connection, {"label": "d", "revision": 0, "total": 0})
            return BUMP.first(connection, {"row_id": row_id, "delta": 1, "limit": 5})
        finally:
            driver.set_trace_callback(None)

    try:
        assert await db.run_core(traced) == (1, 1)
    finally:
        await db.dispose()
    ours = [sql for sql in statements if "prepared_counter" in sql]
    assert [sql.split()[0] for sql in ours] == ["INSERT", "UPDATE", "SELECT"]
    assert not any("RETURNING" in sql.upper() for sql in ours)
