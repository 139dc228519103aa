"""Engines, sessions and units of work: SQLite (WAL) by default, PostgreSQL via ``postgresql+asyncpg://``.

``Database.session()`` is the general async session (one thread hop per statement on SQLite).
``Database.run(fn)`` / ``Database.run_core(fn)`` run a whole synchronous unit of work ``fn(session)`` /
``fn(connection)`` as one transaction, committed when ``fn`` returns and rolled back if it raises:

* on SQLite, on the stdlib ``sqlite3`` driver. A unit first runs right on the event loop on a connection
  whose busy timeout is zero: SQLite statements take microseconds, and a unit never awaits, so it never
  holds a lock across a yield. If the database is locked (another process or another connection of this
  one is writing), that attempt is rolled back and the unit runs instead in this process's one writer
  thread, whose connection waits in SQLite's busy handler, so the event loop never waits for a lock.
  Writes open with ``BEGIN IMMEDIATE``, so writers queue for the lock up front instead of failing to
  upgrade a read lock. Core write units (``run_core``) queued during one event-loop turn share one
  transaction and one commit (group commit), each in its own savepoint; each gets its result only once
  that commit is done. The event-loop connection never checkpoints the WAL itself (a checkpoint may
  fsync); every ``CHECKPOINT_EVERY_COMMITS`` commits the writer thread runs a RESTART checkpoint (so the
  WAL starts over instead of growing while writes never pause), and queued writes wait for it.
* on PostgreSQL, through ``run_sync`` on the asyncpg engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine as create_sync_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_EVERY_COMMITS = 64

T = TypeVar("T")
_LOCKED: Any = object()  # a unit's outcome when the database was locked: run it in the writer thread


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, record: Any) -> None:
    """The driver never opens transactions itself: units of work say BEGIN IMMEDIATE (or nothing, to read)."""
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None


def _sqlite_never_waits(dbapi_connection: Any, record: Any) -> None:
    """The event loop's connection: a locked database is an immediate SQLITE_BUSY, and it never checkpoints."""
    _sqlite_manual_transactions(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


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


def create_unit_engine(url: str, *, on_loop: bool) -> Engine:
    """A SQLite engine of the units of work: stdlib ``sqlite3``, one connection (event loop or writer thread)."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_sync_engine(sync_url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_never_waits if on_loop else _sqlite_manual_transactions)
    return engine


def _attempt(connection: Connection, fn: Callable[[Any], T], write: bool, orm: bool) -> T:
    try:
        if write:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        if orm:
            with Session(bind=connection, expire_on_commit=False) as session:
                result = fn(session)
                session.commit()  # flushes; the transaction is the connection's
        else:
            result = fn(connection)
        connection.commit()
        return result
    except BaseException:
        connection.rollback()
        raise


class _SQLiteUnits:
    """Where SQLite units of work run: on the event loop if the lock is free, else in the writer thread."""

    def __init__(self, url: str) -> None:
        self.loop_engine = create_unit_engine(url, on_loop=True)
        self.thread_engine = create_unit_engine(url, on_loop=False)
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._loop_connection: Connection | None = None
        self._thread_connection: Connection | None = None
        self._commits = 0
        self._checkpoint: Future[None] | None = None
        self._batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._flush_scheduled = False

    def _on_loop(self) -> Connection:
        if self._loop_connection is None:
            self._loop_connection = self.loop_engine.connect()
        return self._loop_connection

    def _in_thread(self, fn: Callable[[Any], T], write: bool, orm: bool) -> T:
        if self._thread_connection is None:
            self._thread_connection = self.thread_engine.connect()
        return _attempt(self._thread_connection, fn, write, orm)

    def _checkpoint_in_thread(self) -> None:
        if self._thread_connection is None:
            self._thread_connection = self.thread_engine.connect()
        self._thread_connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)").all()
        self._thread_connection.commit()

    def _committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY_COMMITS and (self._checkpoint is None or self._checkpoint.done()):
            self._commits = 0
            self._checkpoint = self.writer.submit(self._checkpoint_in_thread)

    async def run(self, fn: Callable[[Any], T], write: bool, orm: bool) -> T:
        if write and not orm:
            outcome = await self._enqueue(fn)
            if outcome is not _LOCKED:
                return cast(T, outcome)
        else:
            try:
                result = _attempt(self._on_loop(), fn, write, orm)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
            else:
                if write:
                    self._committed()
                return result
        return await asyncio.wrap_future(self.writer.submit(self._in_thread, fn, write, orm))

    # -- group commit of Core write units ------------------------------------------------------------

    def _enqueue(self, fn: Callable[[Connection], Any]) -> asyncio.Future[Any]:
        """Queue a write unit for the next batch; the future is its result, ``_LOCKED`` or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._batch.append((fn, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """Run every queued write unit in one transaction, each in its own savepoint, and commit once.

        A unit that raises is rolled back to its savepoint alone and gets its exception; the others'
        results are handed out only after the commit, so nothing is acknowledged before it is durable.
        """
        checkpoint = self._checkpoint
        if checkpoint is not None and not checkpoint.done():  # the batch waits for it, and grows
            loop = asyncio.get_running_loop()
            checkpoint.add_done_callback(lambda _done: loop.call_soon_threadsafe(self._flush))
            return
        self._flush_scheduled = False
        batch, self._batch = self._batch, []
        batch = [(fn, future) for fn, future in batch if not future.done()]
        if not batch:
            return
        connection = self._on_loop()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            connection.rollback()
            for _fn, future in batch:
                if _is_busy(exc):
                    future.set_result(_LOCKED)
                else:
                    future.set_exception(exc)
            return
        driver = connection.connection.dbapi_connection
        assert driver is not None
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            for fn, future in batch:
                driver.execute("SAVEPOINT unit")
                try:
                    result = fn(connection)
                except Exception as exc:
                    driver.execute("ROLLBACK TO SAVEPOINT unit")
                    driver.execute("RELEASE SAVEPOINT unit")
                    locked = isinstance(exc, OperationalError) and _is_busy(exc)
                    outcomes.append((future, _LOCKED, None) if locked else (future, None, exc))
                else:
                    driver.execute("RELEASE SAVEPOINT unit")
                    outcomes.append((future, result, None))
            connection.commit()
        except BaseException as exc:
            connection.rollback()
            for _fn, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._committed()
        for future, result, error in outcomes:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def _close_thread_connection(self) -> None:
        if self._thread_connection is not None:
            self._thread_connection.close()
            self._thread_connection = None

    async def dispose(self) -> None:
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        await asyncio.wrap_future(self.writer.submit(self._close_thread_connection))
        self.writer.shutdown(wait=True)
        self.loop_engine.dispose()
        self.thread_engine.dispose()


class Database:
    """One engine per worker process; ``session()``, ``run()`` and ``run_core()`` commit on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite = _SQLiteUnits(url) if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def run(self, fn: Callable[[Session], T], *, write: bool = True) -> T:
        """Run the ORM unit of work ``fn(session)`` as one transaction.

        ``write=False`` promises ``fn`` only reads (on SQLite it then takes no write lock).
        """
        if self._sqlite is not None:
            return await self._sqlite.run(fn, write, True)
        async with self.sessions() as session, session.begin():
            return await session.run_sync(fn)

    async def run_core(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run the Core unit of work ``fn(connection)`` as one transaction (no ORM session to pay for)."""
        if self._sqlite is not None:
            return await self._sqlite.run(fn, write, False)
        async with self.engine.begin() as connection:
            return await connection.run_sync(fn)

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.dispose()
        await self.engine.dispose()
