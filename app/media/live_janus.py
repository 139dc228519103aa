"""One live Janus session and what the engine has in it: rooms, legs (one handle each), spare handles.

Replaced as a whole when Janus is lost: nothing of it survives a Janus restart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from app.media import audiobridge
from app.media.errors import MediaError
from app.media.janus_api import JanusSession
from app.media.janus_process import JanusEndpoint
from app.media.leg import MediaLeg

__all__ = ["SPARE_HANDLES", "LegState", "LiveJanus"]

SPARE_HANDLES = 2
"""Handles attached ahead of need, so a call's join costs one Janus request instead of two."""


@dataclass(eq=False)
class LegState:
    leg: MediaLeg
    handle: int
    display: str
    remote_ip: str
    remote_port: int
    opus_pt: int | None
    muted: bool = False


@dataclass(eq=False)
class LiveJanus:
    session: JanusSession
    control: int
    """A handle of our own for room requests (create, destroy); it never joins a room."""
    rooms: set[int] = field(default_factory=set)
    legs: dict[str, LegState] = field(default_factory=dict)
    room_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    spare: list[int] = field(default_factory=list)
    refill_task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, client: httpx.AsyncClient, endpoint: JanusEndpoint, rooms: Iterable[int]) -> LiveJanus:
        """A new session on ``endpoint`` with ``rooms`` created (or found) in it."""
        session = await JanusSession.open(client, endpoint.url, endpoint.api_secret)
        try:
            live = cls(session, await session.attach(audiobridge.PLUGIN))
            for room in sorted(rooms):
                await live.ensure_room(room)
        except BaseException:
            await session.close()
            raise
        return live

    async def ensure_room(self, room: int) -> None:
        if room in self.rooms:
            return
        async with self.room_locks.setdefault(room, asyncio.Lock()):
            if room not in self.rooms:
                await audiobridge.create_room(self.session, self.control, room)
                self.rooms.add(room)

    async def take_handle(self) -> int:
        handle = self.spare.pop() if self.spare else await self.session.attach(audiobridge.PLUGIN)
        self.refill()
        return handle

    def refill(self) -> None:
        if len(self.spare) < SPARE_HANDLES and (self.refill_task is None or self.refill_task.done()):
            self.refill_task = asyncio.create_task(self._fill_spares(), name="media-spare-handles")

    def cancel_refill(self) -> None:
        if self.refill_task is not None:
            self.refill_task.cancel()

    async def _fill_spares(self) -> None:
        while len(self.spare) < SPARE_HANDLES and not self.session.lost.is_set():
            try:
                self.spare.append(await self.session.attach(audiobridge.PLUGIN))
            except MediaError:
                return

    async def clean_up(self) -> None:
        """On a Janus that outlives us, leave nothing of ours: every leg leaves, every room goes."""
        for state in list(self.legs.values()):
            with contextlib.suppress(MediaError):
                await self.session.detach(state.handle)
        self.legs.clear()
        for room in sorted(self.rooms):
            with contextlib.suppress(MediaError):
                await audiobridge.destroy_room(self.session, self.control, room)
