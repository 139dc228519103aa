"""What the Conferences page shows: live conferences and their participants' call state (one read)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

from sqlalchemy import func, select

from app.conferences.models import Conference, Participant
from app.storage.database import Database

PAGE_SIZE: Final = 50


@dataclass(frozen=True, slots=True)
class LiveParticipant:
    name: str
    protocol: str
    type: str
    address: str
    call_state: str


@dataclass(frozen=True, slots=True)
class LiveConference:
    name: str
    numeric_id: str
    ended: bool
    participants: list[LiveParticipant] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LivePage:
    total: int
    offset: int
    conferences: list[LiveConference]

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "conferences": [asdict(c) for c in self.conferences]}


async def live_page(database: Database, offset: int = 0, limit: int = PAGE_SIZE) -> LivePage:
    async with database.session() as session:
        total = int((await session.execute(select(func.count()).select_from(Conference))).scalar_one())
        rows = (
            await session.execute(
                select(Conference.id, Conference.name, Conference.numeric_id, Conference.ended_at)
                .order_by(Conference.name)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        ids = [row.id for row in rows]
        participants: dict[int, list[LiveParticipant]] = {conference_id: [] for conference_id in ids}
        if ids:
            found = await session.execute(
                select(
                    Participant.conference_id,
                    Participant.name,
                    Participant.protocol,
                    Participant.participant_type,
                    Participant.address,
                    Participant.call_state,
                )
                .where(Participant.conference_id.in_(ids))
                .order_by(Participant.conference_id, Participant.name)
            )
            for item in found:
                participants[item.conference_id].append(
                    LiveParticipant(item.name, item.protocol, item.participant_type, item.address, item.call_state)
                )
    conferences = [
        LiveConference(row.name, row.numeric_id or "", row.ended_at is not None, participants[row.id]) for row in rows
    ]
    return LivePage(total, offset, conferences)
