"""Queries over the conference tables. Every write transaction starts with ``bump_revision``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.conferences.models import STATE_ROW_ID, Conference, ConferenceState, DeadRecord, NumericIdClaim, Participant
from app.conferences.views import ACTIVE_CALL_STATES


async def bump_revision(
    session: AsyncSession, *, count_delta: int = 0, max_conferences: int | None = None
) -> int | None:
    """Take the writer lock (the state row) and return the new revision; None if the count limit stops it."""
    statement = update(ConferenceState).where(ConferenceState.id == STATE_ROW_ID)
    if max_conferences is not None:
        statement = statement.where(ConferenceState.conference_count + count_delta <= max_conferences)
    statement = statement.values(
        revision=ConferenceState.revision + 1, conference_count=ConferenceState.conference_count + count_delta
    ).returning(ConferenceState.revision)
    return (await session.execute(statement)).scalar_one_or_none()


async def adjust_count(session: AsyncSession, delta: int) -> None:
    if delta:
        statement = update(ConferenceState).where(ConferenceState.id == STATE_ROW_ID)
        await session.execute(statement.values(conference_count=ConferenceState.conference_count + delta))


async def current_revision(session: AsyncSession) -> int:
    statement = select(ConferenceState.revision).where(ConferenceState.id == STATE_ROW_ID)
    return int((await session.execute(statement)).scalar_one())


async def enumerate_key(session: AsyncSession) -> str:
    statement = select(ConferenceState.enumerate_key).where(ConferenceState.id == STATE_ROW_ID)
    return str((await session.execute(statement)).scalar_one())


async def conference_by_name(session: AsyncSession, name: str) -> Conference | None:
    return (await session.execute(select(Conference).where(Conference.name == name))).scalar_one_or_none()


async def conference_by_numeric_id(session: AsyncSession, numeric_id: str) -> tuple[Conference, bool] | None:
    statement = (
        select(Conference, NumericIdClaim.guest)
        .join(NumericIdClaim, NumericIdClaim.conference_id == Conference.id)
        .where(NumericIdClaim.numeric_id == numeric_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], bool(row[1]))


async def replace_numeric_ids(session: AsyncSession, conference: Conference) -> None:
    await session.execute(delete(NumericIdClaim).where(NumericIdClaim.conference_id == conference.id))
    claims = {conference.numeric_id: False} if conference.numeric_id else {}
    if conference.guest_numeric_id and conference.guest_numeric_id not in claims:
        claims[conference.guest_numeric_id] = True
    for numeric_id, guest in claims.items():
        session.add(NumericIdClaim(numeric_id=numeric_id, conference_id=conference.id, guest=guest))
    await session.flush()


async def participants_of(session: AsyncSession, conference_id: int) -> Sequence[Participant]:
    statement = select(Participant).where(Participant.conference_id == conference_id).order_by(Participant.id)
    return (await session.execute(statement)).scalars().all()


async def participant_count(session: AsyncSession, conference_id: int, *, present_only: bool = False) -> int:
    statement = select(func.count()).select_from(Participant).where(Participant.conference_id == conference_id)
    if present_only:
        statement = statement.where(Participant.call_state.in_(ACTIVE_CALL_STATES))
    return int((await session.execute(statement)).scalar_one())


async def participant_by_name(session: AsyncSession, conference_id: int, name: str) -> Participant | None:
    statement = select(Participant).where(Participant.conference_id == conference_id, Participant.name == name)
    return (await session.execute(statement)).scalar_one_or_none()


def add_dead(
    session: AsyncSession, kind: str, item_id: int, identity: dict[str, Any], revision: int, now: datetime
) -> None:
    session.add(DeadRecord(kind=kind, item_id=item_id, identity=identity, revision=revision, deleted_at=now))


async def purge_dead(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(DeadRecord).where(DeadRecord.deleted_at < before))


async def conference_page(
    session: AsyncSession, after_id: int, since_revision: int | None, limit: int
) -> Sequence[Conference]:
    statement = select(Conference).where(Conference.id > after_id)
    if since_revision is not None:
        statement = statement.where(Conference.revision > since_revision)
    return (await session.execute(statement.order_by(Conference.id).limit(limit))).scalars().all()


async def participant_page(
    session: AsyncSession, after_id: int, since_revision: int | None, limit: int
) -> Sequence[tuple[Participant, Conference]]:
    statement = (
        select(Participant, Conference)
        .join(Conference, Conference.id == Participant.conference_id)
        .where(Participant.id > after_id)
    )
    if since_revision is not None:
        statement = statement.where(Participant.revision > since_revision)
    rows = (await session.execute(statement.order_by(Participant.id).limit(limit))).all()
    return [(row[0], row[1]) for row in rows]


async def dead_page(
    session: AsyncSession, kind: str, after_id: int, since_revision: int, limit: int
) -> Sequence[DeadRecord]:
    statement = (
        select(DeadRecord)
        .where(DeadRecord.kind == kind, DeadRecord.item_id > after_id, DeadRecord.revision > since_revision)
        .order_by(DeadRecord.item_id)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def due_ends(session: AsyncSession, now: datetime, limit: int) -> Sequence[int]:
    statement = (
        select(Conference.id)
        .where(Conference.end_time <= now, Conference.ended_at.is_(None))
        .order_by(Conference.end_time)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def due_cleanups(session: AsyncSession, now: datetime, limit: int) -> Sequence[int]:
    statement = select(Conference.id).where(Conference.cleanup_due <= now).order_by(Conference.cleanup_due).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def registration_candidates(session: AsyncSession, now: datetime) -> Sequence[tuple[str, str]]:
    """(name, numericId) of every conference not ended that asked for ``registerWithSIPRegistrar``."""
    statement = (
        select(Conference.name, Conference.numeric_id)
        .where(
            Conference.numeric_id.is_not(None),
            Conference.ended_at.is_(None),
            (Conference.end_time.is_(None)) | (Conference.end_time > now),
            Conference.options["registerWithSIPRegistrar"].as_boolean().is_(True),
        )
        .order_by(Conference.id)
    )
    return [(str(row[0]), str(row[1])) for row in (await session.execute(statement)).all()]
