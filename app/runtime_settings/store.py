"""Reads and writes the one ``runtime_global_settings`` row (synchronous units of work for ``Database.run_core``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from app.runtime_settings.models import ROW_ID, RuntimeGlobalSettings

COLUMNS = ("legacy_api_username", "legacy_api_password_hash", "legacy_api_http")


@dataclass(frozen=True, slots=True)
class StoredGlobals:
    """What the database holds; ``None`` means the value is not set at run time."""

    revision: int
    legacy_api_username: str | None = None
    legacy_api_password_hash: str | None = None
    legacy_api_http: bool | None = None
    updated_at: datetime | None = None


_table: Table = RuntimeGlobalSettings.__table__  # type: ignore[assignment]
_READ = select(
    _table.c.revision,
    _table.c.legacy_api_username,
    _table.c.legacy_api_password_hash,
    _table.c.legacy_api_http,
    _table.c.updated_at,
).where(_table.c.id == ROW_ID)


def read(connection: Connection) -> StoredGlobals:
    row = connection.execute(_READ).one_or_none()
    if row is None:  # the migration inserts the row; a hand-made database may lack it
        return StoredGlobals(revision=0)
    return StoredGlobals(
        revision=int(row.revision),
        legacy_api_username=row.legacy_api_username,
        legacy_api_password_hash=row.legacy_api_password_hash,
        legacy_api_http=None if row.legacy_api_http is None else bool(row.legacy_api_http),
        updated_at=row.updated_at,
    )


def write(connection: Connection, values: dict[str, Any], *, updated_by: str, now: datetime) -> StoredGlobals:
    """Set the given columns (``None`` clears one), bump the revision, return the row as committed."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not a run-time setting column: {sorted(unknown)}")
    statement = (
        update(_table)
        .where(_table.c.id == ROW_ID)
        .values(revision=_table.c.revision + 1, updated_at=now, updated_by=updated_by[:200], **values)
    )
    if connection.execute(statement).rowcount == 0:
        connection.execute(
            insert(_table).values(id=ROW_ID, revision=1, updated_at=now, updated_by=updated_by[:200], **values)
        )
    return read(connection)
