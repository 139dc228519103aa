"""Engines, sessions and units of work: SQLite (WAL) by default, PostgreSQL via ``postgresql+asyncpg://``.

``Database.session()`` is the general async session (one thread hop per statement on SQLite).
``Database.run(fn)`` / ``Database.run_core(fn)`` run a whole synchronous unit of work ``fn(session)`` /
``fn(connection)`` as one transaction, committed when ``fn`` returns and rolled back if it raises:

* on SQLite, on the stdlib ``sqlite3`` driver. A unit first runs right on the event loop on a connection
  whose busy timeout is zero: SQLite statements take microseconds, and a unit never awaits, so it never
  holds a lock across a yield. If the database is locked (another process, or another connection of this
  one, is writing), that attempt is rolled back and the unit runs instead in this process's one writer
  thread, which waits for the lock, so the event loop never does. Writes take the service's writer lock
  (``_WriterLock``, an flock: waiters are woken by the kernel, not by SQLite's busy-handler polling) and
  open with ``BEGIN IMMEDIATE``, so writers queue up front instead of failing to upgrade a read lock.
  Core write units (``run_core``) queued during one event-loop turn share one transaction and one commit
  (group commit), each in its own savepoint; each gets its result only once that commit is done. The
  event-loop connection never checkpoints the WAL itself (a checkpoint may fsync); every
  ``CHECKPOINT_EVERY_COMMITS`` commits the writer thread runs a RESTART checkpoint under the writer lock
  (so the WAL starts over instead of growing while writes never pause).
* on PostgreSQL, through ``run_sync`` on the asyncpg engine.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
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


Outcome = tuple[bool, Any]  # (True, result) or (False, the exception the unit raised)


def _run_batch(connection: Connection, units: list[Callable[[Connection], Any]]) -> list[Outcome]:
    """One write transaction, each unit in its own savepoint: a unit that raises is undone alone.

    Raises (and commits nothing) if the transaction cannot begin or commit.
    """
    outcomes: list[Outcome] = []
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        driver = connection.connection.dbapi_connection
        assert driver is not None
        for fn in units:
            driver.execute("SAVEPOINT unit")
            try:
                result = fn(connection)
            except Exception as exc:
                driver.execute("ROLLBACK TO SAVEPOINT unit")
                driver.execute("RELEASE SAVEPOINT unit")
                outcomes.append((False, exc))
            else:
                driver.execute("RELEASE SAVEPOINT unit")
                outcomes.append((True, result))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return outcomes


class _WriterLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``, taken around every write transaction.

    Every writer of this service (the event loop and the writer thread of every process) takes it before
    ``BEGIN IMMEDIATE``, each through its own open file, so a writer that has to wait sleeps in the kernel
    and wakes the moment the lock is free, instead of polling in SQLite's busy handler (1, 2, 5 ... ms).
    """

    def __init__(self, path: str | None) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def try_acquire(self) -> bool:
        if self._fd is None:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _SQLiteUnits:
    """Where SQLite units of work run: on the event loop if the lock is free, else in the writer thread."""

    def __init__(self, url: str) -> None:
        database = make_url(url).database
        lock_path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self.loop_engine = create_unit_engine(url, on_loop=True)
        self.thread_engine = create_unit_engine(url, on_loop=False)
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._loop_lock = _WriterLock(lock_path)
        self._thread_lock = _WriterLock(lock_path)
        self._loop_connection: Connection | None = None
        self._thread_connection: Connection | None = None
        self._commits = 0
        self._in_flight: Future[Any] | None = None  # the writer thread's latest job
        self._batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._flush_scheduled = False

    def _on_loop(self) -> Connection:
        if self._loop_connection is None:
            self._loop_connection = self.loop_engine.connect()
        return self._loop_connection

    def _on_thread(self) -> Connection:
        if self._thread_connection is None:
            self._thread_connection = self.thread_engine.connect()
        return self._thread_connection

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future = self.writer.submit(fn, *args)
        self._in_flight = future
        return future

    # -- the writer thread's jobs ---------------------------------------------------------------------

    def _unit_in_thread(self, fn: Callable[[Any], T], write: bool, orm: bool) -> T:
        if not write:
            return _attempt(self._on_thread(), fn, write, orm)
        self._thread_lock.acquire()
        try:
            return _attempt(self._on_thread(), fn, write, orm)
        finally:
            self._thread_lock.release()

    def _batch_in_thread(self, units: list[Callable[[Connection], Any]]) -> list[Outcome]:
        self._thread_lock.acquire()
        try:
            return _run_batch(self._on_thread(), units)
        finally:
            self._thread_lock.release()

    def _checkpoint_in_thread(self) -> None:
        self._thread_lock.acquire()
        try:
            self._on_thread().exec_driver_sql("PRAGMA wal_checkpoint(RESTART)").all()
            self._on_thread().commit()
        finally:
            self._thread_lock.release()

    def _committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY_COMMITS and (self._in_flight is None or self._in_flight.done()):
            self._commits = 0
            self._submit(self._checkpoint_in_thread)

    # -- running units --------------------------------------------------------------------------------

    async def run(self, fn: Callable[[Any], T], write: bool, orm: bool) -> T:
        if write and not orm:
            return cast(T, await self._enqueue(fn))
        if not write or self._loop_lock.try_acquire():
            try:
                result = _attempt(self._on_loop(), fn, write, orm)
            except OperationalError as exc:
                if not _is_busy(exc):
                    raise
            else:
                if write:
                    self._committed()
                return result
            finally:
                if write:
                    self._loop_lock.release()
        return await asyncio.wrap_future(self._submit(self._unit_in_thread, fn, write, orm))

    def _enqueue(self, fn: Callable[[Connection], Any]) -> asyncio.Future[Any]:
        """Queue a Core write unit for the next group commit; the future is its result or exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._batch.append((fn, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        """Run every queued write unit in one transaction (see ``_run_batch``) and commit once.

        Results are handed out only after the commit, so nothing is acknowledged before it is durable.
        On the event loop if the writer lock is free; else in the writer thread, which waits for it.
        While the writer thread is busy, the queue waits for it (and grows into a bigger batch).
        """
        loop = asyncio.get_running_loop()
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.done():
            in_flight.add_done_callback(lambda _done: loop.call_soon_threadsafe(self._flush))
            return
        self._flush_scheduled = False
        batch = [(fn, future) for fn, future in self._batch if not future.done()]
        self._batch = []
        if not batch:
            return
        units = [fn for fn, _future in batch]
        if self._loop_lock.try_acquire():
            try:
                outcomes = _run_batch(self._on_loop(), units)
            except OperationalError as exc:
                if not _is_busy(exc):  # busy: a writer that does not take the writer lock; wait for it below
                    self._fail(batch, exc)
                    return
            except Exception as exc:
                self._fail(batch, exc)
                return
            else:
                self._resolve(batch, outcomes)
                return
            finally:
                self._loop_lock.release()
        done = self._submit(self._batch_in_thread, units)
        done.add_done_callback(lambda _done: loop.call_soon_threadsafe(self._resolve_thread_batch, batch, done))

    def _resolve_thread_batch(self, batch: list[tuple[Any, asyncio.Future[Any]]], done: Future[list[Outcome]]) -> None:
        error = done.exception()
        if error is not None:
            self._fail(batch, error)
        else:
            self._resolve(batch, done.result())

    def _resolve(self, batch: list[tuple[Any, asyncio.Future[Any]]], outcomes: list[Outcome]) -> None:
        self._committed()
        for (_fn, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    @staticmethod
    def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], error: BaseException) -> None:
        for _fn, future in batch:
            if not future.done():
                future.set_exception(error)

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
        self._loop_lock.close()
        self._thread_lock.close()


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
