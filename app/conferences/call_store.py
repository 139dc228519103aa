"""Core statements of the SIP calls' units of work (``app.conferences.calls``), built once and bound per call.

A call costs three write units (admit, connected, ended); as Core ``Prepared`` statements they skip the ORM's
session, identity map and flush, and as ``run_core`` units they share the group commit with every other
write queued in the same event-loop turn. Same rows, same values as the ORM units they replace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, delete, func, insert, or_, select, update

from app.conferences.models import CONFERENCE_ROW_FIELDS, STATE_ROW_ID, ConferenceRow
from app.conferences.store import CLAIM, CONFERENCE, CONFERENCE_COLUMNS, DEAD, PARTICIPANT, STATE
from app.conferences.views import ACTIVE_CALL_STATES
from app.storage.prepared import InsertReturningId, Prepared

__all__ = [
    "conference_by_numeric_id",
    "current_revision",
    "delete_participant",
    "insert_dead",
    "insert_participant",
    "live_conferences",
    "mark_connected",
    "participant_count",
    "participant_for_end",
    "participant_states",
    "call_state",
    "present_count",
    "rename_participant",
    "update_presence",
]

_CONFERENCE_TYPES = [column.type for column in CONFERENCE_COLUMNS]
_CONFERENCE_BY_NUMERIC_ID = Prepared(
    select(*CONFERENCE_COLUMNS, CLAIM.c.guest)
    .select_from(CONFERENCE.join(CLAIM, CLAIM.c.conference_id == CONFERENCE.c.id))
    .where(CLAIM.c.numeric_id == bindparam("numeric_id")),
    result_types=[*_CONFERENCE_TYPES, CLAIM.c.guest.type],
)
_PARTICIPANT_COUNT = Prepared(
    select(func.count()).select_from(PARTICIPANT).where(PARTICIPANT.c.conference_id == bindparam("conference_id")),
    result_types=[Integer()],
)
_PRESENT_COUNT = Prepared(
    select(func.count())
    .select_from(PARTICIPANT)
    .where(
        PARTICIPANT.c.conference_id == bindparam("conference_id"),
        # equalities rather than IN: a prepared statement has a fixed list of parameters
        or_(*(PARTICIPANT.c.call_state == state for state in sorted(ACTIVE_CALL_STATES))),
    ),
    result_types=[Integer()],
)
_PARTICIPANT_INSERT_COLUMNS = (
    "conference_id",
    "name",
    "protocol",
    "participant_type",
    "address",
    "options",
    "call_state",
    "connect_time",
    "disconnect_time",
    "disconnect_reason",
    "revision",
)
_INSERT_PARTICIPANT = InsertReturningId(PARTICIPANT, _PARTICIPANT_INSERT_COLUMNS)
_RENAME_PARTICIPANT = Prepared(
    update(PARTICIPANT).where(PARTICIPANT.c.id == bindparam("participant_id")).values(name=bindparam("new_name"))
)
_UPDATE_PRESENCE = Prepared(
    update(CONFERENCE)
    .where(CONFERENCE.c.id == bindparam("conference_id"))
    .values(
        revision=bindparam("new_revision"),
        empty_since=bindparam("new_empty_since"),
        cleanup_due=bindparam("new_cleanup_due"),
    )
)
_CALL_STATE = Prepared(
    select(PARTICIPANT.c.call_state).where(PARTICIPANT.c.id == bindparam("participant_id")),
    result_types=[PARTICIPANT.c.call_state.type],
)
_MARK_CONNECTED = Prepared(
    update(PARTICIPANT)
    .where(PARTICIPANT.c.id == bindparam("participant_id"))
    .values(call_state="connected", connect_time=bindparam("new_connect_time"), revision=bindparam("new_revision"))
)
_END_COLUMNS = (
    PARTICIPANT.c.name,
    PARTICIPANT.c.protocol,
    PARTICIPANT.c.participant_type,
    PARTICIPANT.c.conference_id,
    *CONFERENCE_COLUMNS,
)
_PARTICIPANT_FOR_END = Prepared(
    select(*_END_COLUMNS)
    .select_from(PARTICIPANT.outerjoin(CONFERENCE, CONFERENCE.c.id == PARTICIPANT.c.conference_id))
    .where(PARTICIPANT.c.id == bindparam("participant_id")),
    result_types=[column.type for column in _END_COLUMNS],
)
_INSERT_DEAD = Prepared(insert(DEAD), column_keys=("kind", "item_id", "identity", "revision", "deleted_at"))
_DELETE_PARTICIPANT = Prepared(delete(PARTICIPANT).where(PARTICIPANT.c.id == bindparam("participant_id")))
_CURRENT_REVISION = Prepared(
    select(STATE.c.revision).where(STATE.c.id == STATE_ROW_ID), result_types=[STATE.c.revision.type]
)
_STATE_COLUMNS = (PARTICIPANT.c.id, PARTICIPANT.c.call_state, PARTICIPANT.c.options, *CONFERENCE_COLUMNS)
# IN lists of any length: plain Core (its compiled form is cached by SQLAlchemy); these run once per change
_PARTICIPANT_STATES = (
    select(*_STATE_COLUMNS)
    .select_from(PARTICIPANT.outerjoin(CONFERENCE, CONFERENCE.c.id == PARTICIPANT.c.conference_id))
    .where(PARTICIPANT.c.id.in_(bindparam("participant_ids", expanding=True)))
)
_LIVE_CONFERENCES = select(*CONFERENCE_COLUMNS).where(CONFERENCE.c.id.in_(bindparam("conference_ids", expanding=True)))


def _conference(values: Any) -> ConferenceRow | None:
    """A ``ConferenceRow`` from the conference columns of a row (None: the outer join found none)."""
    return None if values[0] is None else ConferenceRow(*values)


def conference_by_numeric_id(connection: Connection, numeric_id: str) -> tuple[ConferenceRow, bool] | None:
    row = _CONFERENCE_BY_NUMERIC_ID.first(connection, {"numeric_id": numeric_id})
    if row is None:
        return None
    return ConferenceRow(*row[: len(CONFERENCE_ROW_FIELDS)]), bool(row[-1])


def participant_count(connection: Connection, conference_id: int) -> int:
    row = _PARTICIPANT_COUNT.first(connection, {"conference_id": conference_id})
    return int(row[0]) if row is not None else 0


def present_count(connection: Connection, conference_id: int) -> int:
    row = _PRESENT_COUNT.first(connection, {"conference_id": conference_id})
    return int(row[0]) if row is not None else 0


def insert_participant(connection: Connection, values: dict[str, Any]) -> int:
    return _INSERT_PARTICIPANT.run(connection, values)


def rename_participant(connection: Connection, participant_id: int, name: str) -> None:
    _RENAME_PARTICIPANT.all(connection, {"participant_id": participant_id, "new_name": name})


def update_presence(connection: Connection, conference: ConferenceRow, revision: int) -> None:
    """Store the conference's new revision and its (recomputed) cleanup bookkeeping."""
    _UPDATE_PRESENCE.all(
        connection,
        {
            "conference_id": conference.id,
            "new_revision": revision,
            "new_empty_since": conference.empty_since,
            "new_cleanup_due": conference.cleanup_due,
        },
    )


def call_state(connection: Connection, participant_id: int) -> str | None:
    row = _CALL_STATE.first(connection, {"participant_id": participant_id})
    return None if row is None else str(row[0])


def mark_connected(connection: Connection, participant_id: int, now: datetime, revision: int) -> None:
    parameters = {"participant_id": participant_id, "new_connect_time": now, "new_revision": revision}
    _MARK_CONNECTED.all(connection, parameters)


def participant_for_end(
    connection: Connection, participant_id: int
) -> tuple[dict[str, Any], int, ConferenceRow | None] | None:
    """What ending a participant needs: its dead record's identity, its conference id, its conference."""
    row = _PARTICIPANT_FOR_END.first(connection, {"participant_id": participant_id})
    if row is None:
        return None
    conference = _conference(row[4:])
    identity = {
        "participantName": row[0],
        "participantProtocol": row[1],
        "participantType": row[2],
        "conferenceName": conference.name if conference is not None else "",
    }
    return identity, int(row[3]), conference


def insert_dead(
    connection: Connection, kind: str, item_id: int, identity: dict[str, Any], revision: int, now: datetime
) -> None:
    values = {"kind": kind, "item_id": item_id, "identity": identity, "revision": revision, "deleted_at": now}
    _INSERT_DEAD.all(connection, values)


def delete_participant(connection: Connection, participant_id: int) -> None:
    _DELETE_PARTICIPANT.all(connection, {"participant_id": participant_id})


def current_revision(connection: Connection) -> int:
    row = _CURRENT_REVISION.first(connection, {})
    assert row is not None
    return int(row[0])


def participant_states(
    connection: Connection, participant_ids: list[int]
) -> list[tuple[int, str, dict[str, Any], ConferenceRow | None]]:
    """(id, call_state, options, conference or None) of each of these participants that exists."""
    rows = connection.execute(_PARTICIPANT_STATES, {"participant_ids": participant_ids})
    return [(int(row[0]), str(row[1]), row[2], _conference(row[3:])) for row in rows]


def live_conferences(connection: Connection, conference_ids: list[int]) -> list[ConferenceRow]:
    rows = connection.execute(_LIVE_CONFERENCES, {"conference_ids": conference_ids})
    return [ConferenceRow(*row) for row in rows]
