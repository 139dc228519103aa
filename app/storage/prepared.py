"""Hot Core statements that skip SQLAlchemy's per-execution work on SQLite.

A ``Prepared`` statement is compiled once for the connection's SQLite dialect; each execution binds the
parameters with the column types' own bind processors, runs on the ``sqlite3`` cursor of the same
connection (so inside the same transaction) and converts the result columns with the types' own result
processors: the same SQL and the same values as ``connection.execute(statement, parameters)``, at a
fraction of its cost. On any other dialect it is exactly ``connection.execute``.

``InsertReturningId`` and ``UpdateReturning`` are the two shapes of ``RETURNING`` the hot paths need. On
SQLite they get the same answer without the clause, which costs SQLite (3.40) more than the statement and a
``SELECT`` after it. Measured on the state row: ``UPDATE ... RETURNING`` 2.5-2.9 us, and 9.7 us where a NOT
NULL column gives the statement a journal whose memory the process has to get from the kernel each time;
the ``UPDATE`` alone 0.9 us, the ``SELECT`` after it 1.0 us.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, Table, Update, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None
_REQUIRED = object()


class _Compiled:
    __slots__ = ("sql", "binds", "results")

    def __init__(
        self,
        statement: Executable,
        dialect: Dialect,
        column_keys: Sequence[str] | None,
        result_types: Sequence[TypeEngine[Any]],
    ) -> None:
        keys = list(column_keys) if column_keys else None
        compiled: Any = cast(Any, statement).compile(dialect=dialect, column_keys=keys)
        if compiled.positiontup is None:
            raise ValueError("a prepared statement needs a positional paramstyle")
        self.sql: str = compiled.string
        self.binds: list[tuple[str, Any, Processor]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            constant = _REQUIRED if bind.value is None or bind.required else bind.value
            if constant is not _REQUIRED and processor is not None:
                constant = processor(constant)
            self.binds.append((name, constant, processor))
        self.results: list[Processor] = [
            kind.dialect_impl(dialect).result_processor(dialect, None) for kind in result_types
        ]

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, constant, processor in self.binds:
            if constant is not _REQUIRED and name not in values:
                out.append(constant)
                continue
            value = values[name]
            out.append(value if processor is None or value is None else processor(value))
        return tuple(out)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if processor is None or value is None else processor(value)
            for value, processor in zip(raw, self.results, strict=True)
        )


class Prepared:
    """``statement`` (with ``column_keys`` for an INSERT), returning columns of ``result_types``."""

    def __init__(
        self,
        statement: Executable,
        *,
        result_types: Sequence[TypeEngine[Any]] = (),
        column_keys: Sequence[str] | None = None,
    ) -> None:
        self.statement = statement
        self.result_types = tuple(result_types)
        self.column_keys = tuple(column_keys) if column_keys else None
        self._compiled: dict[int, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(id(dialect))
        if compiled is None:
            compiled = _Compiled(self.statement, dialect, self.column_keys, self.result_types)
            self._compiled[id(dialect)] = compiled
        return compiled

    def all(self, connection: Connection, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every result row (an empty list for a statement that returns none)."""
        dialect = connection.dialect
        if dialect.name != "sqlite":
            result = connection.execute(self.statement, values)
            return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._for(dialect)
        cursor = _sqlite_cursor(connection)
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return [compiled.row(raw) for raw in cursor.fetchall()] if compiled.results else []
        except Exception as exc:
            raise _wrapped(connection, compiled.sql, exc) from exc
        finally:
            cursor.close()

    def changed(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it inserted, updated or deleted."""
        dialect = connection.dialect
        if dialect.name != "sqlite":
            return int(connection.execute(self.statement, values).rowcount)
        return self._sqlite_write(connection, values)[0]

    def inserted_rowid(self, connection: Connection, values: dict[str, Any]) -> int:
        """SQLite only: run a one-row INSERT; the new row's rowid (its ``INTEGER PRIMARY KEY``)."""
        return self._sqlite_write(connection, values)[1]

    def _sqlite_write(self, connection: Connection, values: dict[str, Any]) -> tuple[int, int]:
        compiled = self._for(connection.dialect)
        cursor = _sqlite_cursor(connection)
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return int(cursor.rowcount), int(cursor.lastrowid or 0)
        except Exception as exc:
            raise _wrapped(connection, compiled.sql, exc) from exc
        finally:
            cursor.close()

    def first(self, connection: Connection, values: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self.all(connection, values)
        return rows[0] if rows else None

    def many(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Execute once per parameter set (no result rows)."""
        dialect = connection.dialect
        if dialect.name != "sqlite":
            connection.execute(self.statement, list(rows))
            return
        compiled = self._for(dialect)
        cursor = _sqlite_cursor(connection)
        try:
            cursor.executemany(compiled.sql, [compiled.parameters(values) for values in rows])
        except Exception as exc:
            raise _wrapped(connection, compiled.sql, exc) from exc
        finally:
            cursor.close()


class InsertReturningId:
    """A one-row ``INSERT`` into ``table`` (values for ``column_keys``) answering the new row's integer key.

    ``INSERT ... RETURNING id`` where that is one round trip (PostgreSQL); on SQLite the plain ``INSERT``
    and the connection's last rowid, which is that key.
    """

    def __init__(self, table: Table, column_keys: Sequence[str]) -> None:
        (key,) = table.primary_key.columns
        self._returning = Prepared(insert(table).returning(key), result_types=[key.type], column_keys=column_keys)
        self._plain = Prepared(insert(table), column_keys=column_keys)

    def run(self, connection: Connection, values: dict[str, Any]) -> int:
        if connection.dialect.name == "sqlite":
            return self._plain.inserted_rowid(connection, values)
        row = self._returning.first(connection, values)
        assert row is not None
        return int(row[0])


class UpdateReturning:
    """An ``UPDATE`` of at most one row, answering ``returning`` columns of it (None when nothing matched).

    ``UPDATE ... RETURNING`` where that is one round trip (PostgreSQL); on SQLite the plain ``UPDATE``, then,
    if it changed a row, ``reselect`` (which must find that same row again, by its key) in the same
    transaction.
    """

    def __init__(self, statement: Update, returning: Sequence[ColumnElement[Any]], reselect: Select[Any]) -> None:
        types = [column.type for column in returning]
        self._returning = Prepared(statement.returning(*returning), result_types=types)
        self._plain = Prepared(statement)
        self._reselect = Prepared(reselect, result_types=types)

    def first(self, connection: Connection, values: dict[str, Any]) -> tuple[Any, ...] | None:
        if connection.dialect.name != "sqlite":
            return self._returning.first(connection, values)
        if not self._plain.changed(connection, values):
            return None
        return self._reselect.first(connection, values)


def _sqlite_cursor(connection: Connection) -> Any:
    """A cursor of the connection's ``sqlite3`` connection, inside its current transaction."""
    return connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _wrapped(connection: Connection, sql: str, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``, ...)."""
    from sqlalchemy.exc import DBAPIError

    dbapi = connection.dialect.loaded_dbapi
    if isinstance(exc, dbapi.Error):
        return DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=connection.dialect)
    return exc
