"""repair stored conference values earlier versions let in (issue 10)

Before validation moved to the door, ``conference.create``/``modify`` and ``participant.add``/``modify``
stored an explicit ``nil`` as JSON null, and far dates or long spans as they came. Such a value cannot be
written back as XML-RPC (``None``, integers beyond 32 bits) or overflows a derived time (start + duration,
end + cleanupTimeout). This migration makes every stored row one the current code could have written:

- ``options`` that is not a JSON object becomes ``{}``; inside it, members that are null, not a string,
  boolean or 32-bit integer, or (``terminationDate``) not a date in range are removed;
- ``start_time`` is brought into 1970-01-01 .. 9000-12-31T23:59:59 and ``duration_seconds`` and
  ``cleanup_timeout`` into 0 .. 2**31 - 1; the end time follows from start and duration again when either
  changed or when it lies beyond the latest start plus the longest duration; ``ended_at`` and
  ``empty_since`` are held to that bound too, so adding a cleanupTimeout to any of them cannot overflow.

The limits are copied here (not imported) so that this migration keeps meaning what it meant.

Revision ID: c0002_repair_stored_values
Revises: c0001_conferences
Create Date: 2026-12-01 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "c0002_repair_stored_values"
down_revision: str | Sequence[str] | None = "c0001_conferences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9000, 12, 31, 23, 59, 59)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
LATEST_DERIVED = LATEST + timedelta(seconds=INT32_MAX)  # the latest start plus the longest duration
DATE_OPTIONS = frozenset({"terminationDate"})
BATCH = 500

_conference = sa.table(
    "conference",
    sa.column("id", sa.Integer()),
    sa.column("options", sa.JSON()),
    sa.column("start_time", sa.DateTime()),
    sa.column("duration_seconds", sa.Integer()),
    sa.column("end_time", sa.DateTime()),
    sa.column("ended_at", sa.DateTime()),
    sa.column("cleanup_timeout", sa.Integer()),
    sa.column("empty_since", sa.DateTime()),
)
_participant = sa.table("conference_participant", sa.column("id", sa.Integer()), sa.column("options", sa.JSON()))


def _date_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is None and EARLIEST <= moment <= LATEST


def _scalar(name: str, value: object) -> bool:
    if name in DATE_OPTIONS:
        return _date_text(value)
    if isinstance(value, bool | str):
        return True
    return isinstance(value, int) and INT32_MIN <= value <= INT32_MAX


def repaired_options(options: object) -> dict[str, Any]:
    if not isinstance(options, dict):
        return {}
    return {name: value for name, value in options.items() if isinstance(name, str) and _scalar(name, value)}


def _bounded(value: datetime | None) -> datetime | None:
    return value if value is None else min(value, LATEST_DERIVED)


def _seconds(value: int | None) -> int:
    return min(max(value or 0, 0), INT32_MAX)


def repaired_conference(row: sa.Row[Any]) -> dict[str, Any]:
    """The columns of ``row`` that change (empty: the row is fine)."""
    values: dict[str, Any] = {}
    options = repaired_options(row.options)
    if options != row.options:
        values["options"] = options
    start = min(max(row.start_time or EARLIEST, EARLIEST), LATEST)
    duration = _seconds(row.duration_seconds)
    if start != row.start_time:
        values["start_time"] = start
    if duration != row.duration_seconds:
        values["duration_seconds"] = duration
    cleanup = _seconds(row.cleanup_timeout)
    if cleanup != row.cleanup_timeout:
        values["cleanup_timeout"] = cleanup
    end = row.end_time
    if "start_time" in values or "duration_seconds" in values or _bounded(end) != end:
        end = start + timedelta(seconds=duration) if duration else None
    if end != row.end_time:
        values["end_time"] = end
    for column in ("ended_at", "empty_since"):
        moment = _bounded(getattr(row, column))
        if moment != getattr(row, column):
            values[column] = moment
    return values


def _batches(connection: sa.Connection, table: sa.TableClause, *columns: sa.ColumnClause[Any]) -> Any:
    after = 0
    while True:
        rows = connection.execute(sa.select(*columns).where(table.c.id > after).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def upgrade() -> None:
    connection = op.get_bind()
    conference_columns = list(_conference.c)
    for rows in _batches(connection, _conference, *conference_columns):
        for row in rows:
            values = repaired_conference(row)
            if values:
                connection.execute(sa.update(_conference).where(_conference.c.id == row.id).values(**values))
    for rows in _batches(connection, _participant, _participant.c.id, _participant.c.options):
        for row in rows:
            options = repaired_options(row.options)
            if options != row.options:
                connection.execute(sa.update(_participant).where(_participant.c.id == row.id).values(options=options))


def downgrade() -> None:
    """Nothing to undo: the removed values were ones no version could send back."""
