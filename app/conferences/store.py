"""Synchronous statements of the conference units of work (run whole by ``Database.run``).

The hot statements are SQLAlchemy Core, built once here (so their compiled form is cached) and bound
per call; every write transaction starts with ``bump_revision``, which takes the writer lock (the
state row) on PostgreSQL and finds it already taken (``BEGIN IMMEDIATE``) on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, true, update
from sqlalchemy.orm import Session

from app.conferences.models import (
    CONFERENCE_ROW_FIELDS,
    STATE_ROW_ID,
    Conference,
    ConferenceRow,
    ConferenceState,
    DeadRecord,
    NumericIdClaim,
    Participant,
)
from app.conferences.views import ACTIVE_CALL_STATES
from app.storage.prepared import InsertReturningId, Prepared, UpdateReturning

CONFERENCE = cast(Table, Conference.__table__)
STATE = cast(Table, ConferenceState.__table__)
CLAIM = cast(Table, NumericIdClaim.__table__)
PARTICIPANT = cast(Table, Participant.__table__)
DEAD = cast(Table, DeadRecord.__table__)

CONFERENCE_COLUMNS = [CONFERENCE.c[name] for name in CONFERENCE_ROW_FIELDS]
INSERT_COLUMNS = [name for name in CONFERENCE_ROW_FIELDS if name != "id"]

_BUMP_VALUES = {"revision": STATE.c.revision + 1, "conference_count": STATE.c.conference_count + bindparam("delta")}
_STATE_ROW = STATE.c.id == STATE_ROW_ID
_REVISION = select(STATE.c.revision).where(_STATE_ROW)
_BUMP = UpdateReturning(update(STATE).where(_STATE_ROW).values(_BUMP_VALUES), [STATE.c.revision], _REVISION)
_BUMP_LIMITED = UpdateReturning(
    update(STATE)
    .where(_STATE_ROW, STATE.c.conference_count + bindparam("delta") <= bindparam("limit"))
    .values(_BUMP_VALUES),
    [STATE.c.revision],
    _REVISION,
)
_ADJUST_COUNT = Prepared(
    update(STATE).where(_STATE_ROW).values(conference_count=STATE.c.conference_count + bindparam("delta"))
)
_ENUMERATE_KEY = Prepared(select(STATE.c.enumerate_key).where(_STATE_ROW), result_types=[STATE.c.enumerate_key.type])
_INSERT_CONFERENCE = InsertReturningId(CONFERENCE, INSERT_COLUMNS)
_CLAIM_COLUMNS = ("numeric_id", "conference_id", "guest")
_INSERT_CLAIMS = Prepared(insert(CLAIM), column_keys=_CLAIM_COLUMNS)
_DELETE_CLAIMS = Prepared(delete(CLAIM).where(CLAIM.c.conference_id == bindparam("conference_id")))
_CONFERENCE_BY_NAME = Prepared(
    select(*CONFERENCE_COLUMNS).where(CONFERENCE.c.name == bindparam("name")),
    result_types=[column.type for column in CONFERENCE_COLUMNS],
)
_VICTIM_COLUMNS = (
    CONFERENCE.c.id,
    CONFERENCE.c.numeric_id,
    CONFERENCE.c.options,
    PARTICIPANT.c.id,
    PARTICIPANT.c.name,
    PARTICIPANT.c.protocol,
    PARTICIPANT.c.participant_type,
)
_DELETE_VICTIM = Prepared(
    select(*_VICTIM_COLUMNS)
    .select_from(CONFERENCE.outerjoin(PARTICIPANT, PARTICIPANT.c.conference_id == CONFERENCE.c.id))
    .where(CONFERENCE.c.name == bindparam("name"))
    .order_by(PARTICIPANT.c.id),
    result_types=[column.type for column in _VICTIM_COLUMNS],
)
_DELETE_CONFERENCE = Prepared(delete(CONFERENCE).where(CONFERENCE.c.id == bindparam("conference_id")))
_ANY_DUE_END = Prepared(
    select(CONFERENCE.c.id).where(CONFERENCE.c.end_time <= bindparam("now"), CONFERENCE.c.ended_at.is_(None)).limit(1),
    result_types=[CONFERENCE.c.id.type],
)
_ANY_DUE_CLEANUP = Prepared(
    select(CONFERENCE.c.id).where(CONFERENCE.c.cleanup_due <= bindparam("now")).limit(1),
    result_types=[CONFERENCE.c.id.type],
)
_NEXT_END = Prepared(
    select(CONFERENCE.c.end_time)
    .where(CONFERENCE.c.end_time.is_not(None), CONFERENCE.c.ended_at.is_(None))
    .order_by(CONFERENCE.c.end_time)
    .limit(1),
    result_types=[CONFERENCE.c.end_time.type],
)
_NEXT_CLEANUP = Prepared(
    select(CONFERENCE.c.cleanup_due)
    .where(CONFERENCE.c.cleanup_due.is_not(None))
    .order_by(CONFERENCE.c.cleanup_due)
    .limit(1),
    result_types=[CONFERENCE.c.cleanup_due.type],
)
_DEAD_COLUMNS = ("kind", "item_id", "identity", "revision", "deleted_at")
_INSERT_DEAD = Prepared(insert(DEAD), column_keys=_DEAD_COLUMNS)


def _conference_page_statement(since: bool) -> Prepared:
    page = select(*CONFERENCE_COLUMNS).where(CONFERENCE.c.id > bindparam("after_id"))
    if since:
        page = page.where(CONFERENCE.c.revision > bindparam("since_revision"))
    rows = page.order_by(CONFERENCE.c.id).limit(bindparam("limit")).subquery()
    columns = [rows.c[name] for name in CONFERENCE_ROW_FIELDS]
    statement = (
        select(STATE.c.revision, *columns)
        .select_from(STATE.outerjoin(rows, true()))
        .where(_STATE_ROW)
        .order_by(rows.c.id)
    )
    return Prepared(statement, result_types=[STATE.c.revision.type, *(column.type for column in columns)])


_CONFERENCE_PAGE = _conference_page_statement(False)
_CONFERENCE_PAGE_SINCE = _conference_page_statement(True)
_DEAD_PAGE = Prepared(
    select(DEAD.c.item_id, DEAD.c.identity)
    .where(
        DEAD.c.kind == bindparam("kind"),
        DEAD.c.item_id > bindparam("after_id"),
        DEAD.c.revision > bindparam("since_revision"),
    )
    .order_by(DEAD.c.item_id)
    .limit(bindparam("limit")),
    result_types=[DEAD.c.item_id.type, DEAD.c.identity.type],
)


def bump_revision(connection: Connection, *, count_delta: int = 0, max_conferences: int | None = None) -> int | None:
    """Take the writer lock (the state row) and return the new revision; None if the count limit stops it."""
    if max_conferences is None:
        row = _BUMP.first(connection, {"delta": count_delta})
    else:
        row = _BUMP_LIMITED.first(connection, {"delta": count_delta, "limit": max_conferences})
    return None if row is None else int(row[0])


def adjust_count(connection: Connection, delta: int) -> None:
    if delta:
        _ADJUST_COUNT.all(connection, {"delta": delta})


def enumerate_key(connection: Connection) -> str:
    row = _ENUMERATE_KEY.first(connection, {})
    assert row is not None
    return str(row[0])


def insert_conference(connection: Connection, values: dict[str, Any]) -> int:
    """Insert a conference row (raises IntegrityError on a duplicate name); its new id."""
    return _INSERT_CONFERENCE.run(connection, values)


def numeric_claims(numeric_id: str | None, guest_numeric_id: str | None) -> dict[str, bool]:
    claims = {numeric_id: False} if numeric_id else {}
    if guest_numeric_id and guest_numeric_id not in claims:
        claims[guest_numeric_id] = True
    return claims


def insert_claims(connection: Connection, conference_id: int, claims: dict[str, bool]) -> None:
    """Claim numeric IDs for a conference (raises IntegrityError if one is taken)."""
    for numeric_id, guest in claims.items():
        _INSERT_CLAIMS.all(connection, {"numeric_id": numeric_id, "conference_id": conference_id, "guest": guest})


def replace_numeric_ids(session: Session, conference: Conference) -> None:
    connection = session.connection()
    _DELETE_CLAIMS.all(connection, {"conference_id": conference.id})
    insert_claims(connection, conference.id, numeric_claims(conference.numeric_id, conference.guest_numeric_id))


def conference_row(connection: Connection, name: str) -> ConferenceRow | None:
    row = _CONFERENCE_BY_NAME.first(connection, {"name": name})
    return None if row is None else ConferenceRow(*row)


def delete_conference(
    connection: Connection, name: str, revision: int, now: datetime
) -> tuple[str | None, dict[str, Any]] | None:
    """Delete a conference (its participants and numeric IDs cascade) leaving dead records of them all.

    Returns the conference's (numeric_id, options), or None if there is no such conference.
    """
    rows = _DELETE_VICTIM.all(connection, {"name": name})
    if not rows:
        return None
    conference_id, numeric_id, options = rows[0][0], rows[0][1], rows[0][2]
    dead = [
        {
            "kind": "participant",
            "item_id": row[3],
            "identity": {
                "participantName": row[4],
                "participantProtocol": row[5],
                "participantType": row[6],
                "conferenceName": name,
            },
            "revision": revision,
            "deleted_at": now,
        }
        for row in rows
        if row[3] is not None
    ]
    dead.append(
        {
            "kind": "conference",
            "item_id": conference_id,
            "identity": {"conferenceName": name, "uniqueId": conference_id},
            "revision": revision,
            "deleted_at": now,
        }
    )
    _DELETE_CONFERENCE.all(connection, {"conference_id": conference_id})
    if len(dead) == 1:
        _INSERT_DEAD.all(connection, dead[0])
    else:
        _INSERT_DEAD.many(connection, dead)
    return numeric_id, options


def conference_page(
    connection: Connection, after_id: int, since_revision: int | None, limit: int
) -> tuple[int, list[ConferenceRow]]:
    """The current revision and up to ``limit`` conferences after ``after_id``, in one statement."""
    if since_revision is None:
        rows = _CONFERENCE_PAGE.all(connection, {"after_id": after_id, "limit": limit})
    else:
        parameters = {"after_id": after_id, "since_revision": since_revision, "limit": limit}
        rows = _CONFERENCE_PAGE_SINCE.all(connection, parameters)
    return int(rows[0][0]), [ConferenceRow(*row[1:]) for row in rows if row[1] is not None]


def dead_page(
    connection: Connection, kind: str, after_id: int, since_revision: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    parameters = {"kind": kind, "after_id": after_id, "since_revision": since_revision, "limit": limit}
    return [(int(row[0]), row[1]) for row in _DEAD_PAGE.all(connection, parameters)]


def next_due(connection: Connection) -> datetime | None:
    """The earliest end time of a conference not yet ended, or cleanup time (None: nothing is timed)."""
    times = [row[0] for row in (_NEXT_END.first(connection, {}), _NEXT_CLEANUP.first(connection, {})) if row]
    return min(times) if times else None


def any_due_end(connection: Connection, now: datetime) -> bool:
    """Whether a conference's end time has passed without it being ended (the sweeper's check)."""
    return _ANY_DUE_END.first(connection, {"now": now}) is not None


def any_due_cleanup(connection: Connection, now: datetime) -> bool:
    """Whether a conference's cleanup time has come."""
    return _ANY_DUE_CLEANUP.first(connection, {"now": now}) is not None


def current_revision(session: Session) -> int:
    statement = select(ConferenceState.revision).where(ConferenceState.id == STATE_ROW_ID)
    return int(session.execute(statement).scalar_one())


# -- ORM helpers of the less frequent units of work ---------------------------------------------------


def conference_by_name(session: Session, name: str) -> Conference | None:
    return session.execute(select(Conference).where(Conference.name == name)).scalar_one_or_none()


def conference_by_numeric_id(session: Session, numeric_id: str) -> tuple[Conference, bool] | None:
    statement = (
        select(Conference, NumericIdClaim.guest)
        .join(NumericIdClaim, NumericIdClaim.conference_id == Conference.id)
        .where(NumericIdClaim.numeric_id == numeric_id)
    )
    row = session.execute(statement).one_or_none()
    return None if row is None else (row[0], bool(row[1]))


def participants_of(session: Session, conference_id: int) -> Sequence[Participant]:
    statement = select(Participant).where(Participant.conference_id == conference_id).order_by(Participant.id)
    return session.execute(statement).scalars().all()


def participant_count(session: Session, conference_id: int, *, present_only: bool = False) -> int:
    statement = select(func.count()).select_from(Participant).where(Participant.conference_id == conference_id)
    if present_only:
        statement = statement.where(Participant.call_state.in_(ACTIVE_CALL_STATES))
    return int(session.execute(statement).scalar_one())


def participant_by_name(session: Session, conference_id: int, name: str) -> Participant | None:
    statement = select(Participant).where(Participant.conference_id == conference_id, Participant.name == name)
    return session.execute(statement).scalar_one_or_none()


def add_dead(session: Session, kind: str, item_id: int, identity: dict[str, Any], revision: int, now: datetime) -> None:
    session.add(DeadRecord(kind=kind, item_id=item_id, identity=identity, revision=revision, deleted_at=now))


def purge_dead(session: Session, before: datetime) -> None:
    session.execute(delete(DeadRecord).where(DeadRecord.deleted_at < before))


def participant_page(
    session: Session, after_id: int, since_revision: int | None, limit: int
) -> list[tuple[Participant, Conference]]:
    statement = (
        select(Participant, Conference)
        .join(Conference, Conference.id == Participant.conference_id)
        .where(Participant.id > after_id)
    )
    if since_revision is not None:
        statement = statement.where(Participant.revision > since_revision)
    rows = session.execute(statement.order_by(Participant.id).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


def due_ends(session: Session, now: datetime, limit: int) -> Sequence[int]:
    statement = (
        select(Conference.id)
        .where(Conference.end_time <= now, Conference.ended_at.is_(None))
        .order_by(Conference.end_time)
        .limit(limit)
    )
    return session.execute(statement).scalars().all()


def due_cleanups(session: Session, now: datetime, limit: int) -> Sequence[int]:
    statement = select(Conference.id).where(Conference.cleanup_due <= now).order_by(Conference.cleanup_due).limit(limit)
    return session.execute(statement).scalars().all()
