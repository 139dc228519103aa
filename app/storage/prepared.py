"""Hot Core statements that skip SQLAlchemy's per-execution work on SQLite.

A ``Prepared`` statement is compiled once for the connection's SQLite dialect; each execution binds the
parameters with the column types' own bind processors, runs on the ``sqlite3`` cursor of the same
connection (so inside the same transaction) and converts the result columns with the types' own result
processors: the same SQL and the same values as ``connection.execute(statement, parameters)``, at a
fraction of its cost. On any other dialect it is exactly ``connection.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Connection
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
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return [compiled.row(raw) for raw in cursor.fetchall()] if compiled.results else []
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
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.parameters(values) for values in rows])
        except Exception as exc:
            raise _wrapped(connection, compiled.sql, exc) from exc
        finally:
            cursor.close()


def _wrapped(connection: Connection, sql: str, exc: Exception) -> Exception:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``, ...)."""
    from sqlalchemy.exc import DBAPIError

    dbapi = connection.dialect.loaded_dbapi
    if isinstance(exc, dbapi.Error):
        return DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=connection.dialect)
    return exc
