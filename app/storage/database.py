"""Engines, sessions and units of work: SQLite (WAL) by default, PostgreSQL via ``postgresql+asyncpg://``.

``Database.session()`` is the general async session (one thread hop per statement on SQLite).
``Database.run(fn)`` runs a whole synchronous unit of work ``fn(session)`` in one go and commits it:

* on SQLite, in the one writer thread of this process, on the stdlib ``sqlite3`` driver: one request
  costs one thread hop however many statements it runs, writers of this process never contend for the
  database lock, and writes open with ``BEGIN IMMEDIATE`` so writers of other processes queue in
  SQLite's busy handler instead of failing to upgrade a read lock;
* on PostgreSQL, through ``AsyncSession.run_sync`` on the asyncpg engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine as create_sync_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")
UnitOfWork = Callable[[Session], T]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, record: Any) -> None:
    """The driver never opens transactions itself: ``Database.run`` says BEGIN IMMEDIATE or BEGIN."""
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=5, max_overflow=5)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def create_writer_engine(url: str) -> Engine:
    """The SQLite engine of the writer thread: stdlib ``sqlite3``, one connection, same pragmas."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_sync_engine(sync_url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_manual_transactions)
    return engine


class Database:
    """One engine per worker process; ``session()`` and ``run()`` give units of work that commit on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer: ThreadPoolExecutor | None = None
        self._writer_engine: Engine | None = None
        if self.is_sqlite:
            self._writer_engine = create_writer_engine(url)
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def run(self, fn: UnitOfWork[T], *, write: bool = True) -> T:
        """Run ``fn(session)`` as one transaction, committed when it returns, rolled back if it raises.

        ``write=False`` promises ``fn`` only reads (on SQLite it then takes no write lock).
        """
        if self._writer is not None:
            return await asyncio.wrap_future(self._writer.submit(self._run_sqlite, fn, write))
        async with self.sessions() as session, session.begin():
            return await session.run_sync(fn)

    def _run_sqlite(self, fn: UnitOfWork[T], write: bool) -> T:
        assert self._writer_engine is not None
        with Session(self._writer_engine, expire_on_commit=False, autoflush=False) as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            result = fn(session)
            session.commit()
            return result

    async def dispose(self) -> None:
        if self._writer is not None:
            assert self._writer_engine is not None
            await asyncio.wrap_future(self._writer.submit(self._writer_engine.dispose))
            self._writer.shutdown(wait=True)
        await self.engine.dispose()
