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

CONFERENCE = cast(Table, Conference.__table__)
STATE = cast(Table, ConferenceState.__table__)
CLAIM = cast(Table, NumericIdClaim.__table__)
PARTICIPANT = cast(Table, Participant.__table__)
DEAD = cast(Table, DeadRecord.__table__)

CONFERENCE_COLUMNS = [CONFERENCE.c[name] for name in CONFERENCE_ROW_FIELDS]
INSERT_COLUMNS = [name for name in CONFERENCE_ROW_FIELDS if name != "id"]

_BUMP = (
    update(STATE)
    .where(STATE.c.id == STATE_ROW_ID)
    .values(revision=STATE.c.revision + 1, conference_count=STATE.c.conference_count + bindparam("delta"))
    .returning(STATE.c.revision)
)
_BUMP_LIMITED = (
    update(STATE)
    .where(STATE.c.id == STATE_ROW_ID, STATE.c.conference_count + bindparam("delta") <= bindparam("limit"))
    .values(revision=STATE.c.revision + 1, conference_count=STATE.c.conference_count + bindparam("delta"))
    .returning(STATE.c.revision)
)
_ADJUST_COUNT = (
    update(STATE)
    .where(STATE.c.id == STATE_ROW_ID)
    .values(conference_count=STATE.c.conference_count + bindparam("delta"))
)
_ENUMERATE_KEY = select(STATE.c.enumerate_key).where(STATE.c.id == STATE_ROW_ID)
_INSERT_CONFERENCE = insert(CONFERENCE).returning(CONFERENCE.c.id)
_INSERT_CLAIMS = insert(CLAIM)
_DELETE_CLAIMS = delete(CLAIM).where(CLAIM.c.conference_id == bindparam("conference_id"))
_CONFERENCE_BY_NAME = select(*CONFERENCE_COLUMNS).where(CONFERENCE.c.name == bindparam("name"))
_DELETE_VICTIM = (
    select(
        CONFERENCE.c.id,
        CONFERENCE.c.numeric_id,
        CONFERENCE.c.options,
        PARTICIPANT.c.id,
        PARTICIPANT.c.name,
        PARTICIPANT.c.protocol,
        PARTICIPANT.c.participant_type,
    )
    .select_from(CONFERENCE.outerjoin(PARTICIPANT, PARTICIPANT.c.conference_id == CONFERENCE.c.id))
    .where(CONFERENCE.c.name == bindparam("name"))
    .order_by(PARTICIPANT.c.id)
)
_DELETE_CONFERENCE = delete(CONFERENCE).where(CONFERENCE.c.id == bindparam("conference_id"))
_INSERT_DEAD = insert(DEAD)


def _conference_page_statement(since: bool) -> Any:
    page = select(*CONFERENCE_COLUMNS).where(CONFERENCE.c.id > bindparam("after_id"))
    if since:
        page = page.where(CONFERENCE.c.revision > bindparam("since_revision"))
    rows = page.order_by(CONFERENCE.c.id).limit(bindparam("limit")).subquery()
    columns = [rows.c[name] for name in CONFERENCE_ROW_FIELDS]
    return (
        select(STATE.c.revision, *columns)
        .select_from(STATE.outerjoin(rows, true()))
        .where(STATE.c.id == STATE_ROW_ID)
        .order_by(rows.c.id)
    )


_CONFERENCE_PAGE = _conference_page_statement(False)
_CONFERENCE_PAGE_SINCE = _conference_page_statement(True)
_DEAD_PAGE = (
    select(DEAD.c.item_id, DEAD.c.identity)
    .where(
        DEAD.c.kind == bindparam("kind"),
        DEAD.c.item_id > bindparam("after_id"),
        DEAD.c.revision > bindparam("since_revision"),
    )
    .order_by(DEAD.c.item_id)
    .limit(bindparam("limit"))
)


def bump_revision(session: Session, *, count_delta: int = 0, max_conferences: int | None = None) -> int | None:
    """Take the writer lock (the state row) and return the new revision; None if the count limit stops it."""
    connection = session.connection()
    if max_conferences is None:
        result = connection.execute(_BUMP, {"delta": count_delta})
    else:
        result = connection.execute(_BUMP_LIMITED, {"delta": count_delta, "limit": max_conferences})
    revision = result.scalar_one_or_none()
    return None if revision is None else int(revision)


def adjust_count(session: Session, delta: int) -> None:
    if delta:
        session.connection().execute(_ADJUST_COUNT, {"delta": delta})


def enumerate_key(session: Session) -> str:
    return str(session.connection().execute(_ENUMERATE_KEY).scalar_one())


def insert_conference(connection: Connection, values: dict[str, Any]) -> int:
    """Insert a conference row (raises IntegrityError on a duplicate name); its new id."""
    return int(connection.execute(_INSERT_CONFERENCE, values).scalar_one())


def numeric_claims(numeric_id: str | None, guest_numeric_id: str | None) -> dict[str, bool]:
    claims = {numeric_id: False} if numeric_id else {}
    if guest_numeric_id and guest_numeric_id not in claims:
        claims[guest_numeric_id] = True
    return claims


def insert_claims(connection: Connection, conference_id: int, claims: dict[str, bool]) -> None:
    """Claim numeric IDs for a conference (raises IntegrityError if one is taken)."""
    if claims:
        rows = [{"numeric_id": n, "conference_id": conference_id, "guest": g} for n, g in claims.items()]
        connection.execute(_INSERT_CLAIMS, rows)


def replace_numeric_ids(session: Session, conference: Conference) -> None:
    connection = session.connection()
    connection.execute(_DELETE_CLAIMS, {"conference_id": conference.id})
    insert_claims(connection, conference.id, numeric_claims(conference.numeric_id, conference.guest_numeric_id))


def conference_row(connection: Connection, name: str) -> ConferenceRow | None:
    row = connection.execute(_CONFERENCE_BY_NAME, {"name": name}).first()
    return None if row is None else ConferenceRow(*row)


def delete_conference(
    connection: Connection, name: str, revision: int, now: datetime
) -> tuple[str | None, dict[str, Any]] | None:
    """Delete a conference (its participants and numeric IDs cascade) leaving dead records of them all.

    Returns the conference's (numeric_id, options), or None if there is no such conference.
    """
    rows = connection.execute(_DELETE_VICTIM, {"name": name}).all()
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
    connection.execute(_DELETE_CONFERENCE, {"conference_id": conference_id})
    connection.execute(_INSERT_DEAD, dead)
    return numeric_id, options


def conference_page(
    connection: Connection, after_id: int, since_revision: int | None, limit: int
) -> tuple[int, list[ConferenceRow]]:
    """The current revision and up to ``limit`` conferences after ``after_id``, in one statement."""
    parameters: dict[str, Any] = {"after_id": after_id, "limit": limit}
    if since_revision is None:
        statement = _CONFERENCE_PAGE
    else:
        statement = _CONFERENCE_PAGE_SINCE
        parameters["since_revision"] = since_revision
    rows = connection.execute(statement, parameters).all()
    revision = int(rows[0][0])
    return revision, [ConferenceRow(*row[1:]) for row in rows if row[1] is not None]


def dead_page(
    connection: Connection, kind: str, after_id: int, since_revision: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    parameters = {"kind": kind, "after_id": after_id, "since_revision": since_revision, "limit": limit}
    return [(int(row[0]), row[1]) for row in connection.execute(_DEAD_PAGE, parameters)]


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
