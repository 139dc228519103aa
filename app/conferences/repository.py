"""Async queries over the conference tables for other packages (the SIP registration reconciler).

The conference service itself runs synchronous units of work (``app.conferences.store``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conferences.models import STATE_ROW_ID, Conference, ConferenceState


async def current_revision(session: AsyncSession) -> int:
    statement = select(ConferenceState.revision).where(ConferenceState.id == STATE_ROW_ID)
    return int((await session.execute(statement)).scalar_one())


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
