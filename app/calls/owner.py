"""The calls part of the owner process: the SIP call server, the media engine, and reconciliation.

Started when this process takes the SIP lease (``app.sip_registration``), stopped when it loses or gives it
up. Every second (at once when poked) it compares its calls with the conference store: a participant that
was removed, disconnected, or whose conference was destroyed or ended is hung up (BYE); a change of
``audioRxMuted`` mutes the caller in the mix. A lost media engine hangs up every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from app.calls.dialout import Dialer
from app.calls.media import MediaEngineLike
from app.calls.server import CallServer
from app.conferences.calls import CallParticipants
from app.core.tasks import cancel_and_wait, sleep_or_wake
from app.sip.client import SipUserAgent

__all__ = ["CallOwner"]

log = logging.getLogger("adhoc.calls")

TICK_SECONDS = 1.0


class CallOwner:
    def __init__(self, media: MediaEngineLike, participants: CallParticipants, *, tick: float = TICK_SECONDS) -> None:
        self.media = media
        self.participants = participants
        self.tick = tick
        self.server: CallServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._revision: int | None = None
        self.dialer: Dialer | None = None
        self.dialling: dict[int, asyncio.Task[None]] = {}
        media.on_lost(self._media_lost)

    async def start(self, ua: SipUserAgent) -> None:
        self.server = CallServer(ua, self.media, self.participants)
        self.dialer = Dialer(self.server, ua.settings, ua.lookup)
        ua.request_handler = self.server.on_request  # 503 while the engine starts
        try:
            await self.participants.clear_orphans()
        except Exception:
            log.exception("cannot clear the calls a previous owner left in the store")
        try:
            await self.media.start()
        except Exception:
            log.exception("media engine did not start; calls get 503 until it does")
        self._task = asyncio.create_task(self._run(), name="calls-reconcile")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for task in list(self.dialling.values()):
            task.cancel()
        for task in list(self.dialling.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.dialling.clear()
        server, self.server = self.server, None
        if server is not None:
            server.ua.request_handler = None
            await server.close()
        with contextlib.suppress(Exception):
            await self.media.stop()

    def poke(self) -> None:
        self._wake.set()

    async def _media_lost(self) -> None:
        server = self.server
        if server is None:
            return
        calls = list(server.calls.values())
        for call in calls:
            call.leg = None  # gone with the engine
        await asyncio.gather(*(server.hang_up(call, "media engine lost") for call in calls), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call reconciliation failed; retrying next tick")
            await sleep_or_wake(self._wake, self.tick)

    async def reconcile(self) -> None:
        server = self.server
        if server is None:
            return
        revision = await self.participants.current_revision()
        if revision == self._revision:
            return
        previous, self._revision = self._revision, revision
        participants = self.participants
        if previous is not None and participants.only_own_changes(previous, revision):
            participants.forget_own_changes(revision)  # our calls' own bookkeeping: nothing to hang up or dial
            return
        participants.forget_own_changes(revision)
        await self._hang_up_removed(server)
        await self._dial_outs(server)
        await self._destroy_dead_rooms(server)

    async def _dial_outs(self, server: CallServer) -> None:
        """Dial new or re-connected ``by_address`` SIP participants; stop dialling removed/disconnected ones."""
        if self.dialer is None or not self.media.available:
            return
        if self.dialling:
            states = await self.participants.states(list(self.dialling))
            for participant_id, task in list(self.dialling.items()):
                state = states.get(participant_id)
                if state is None or state.call_state == "disconnected":
                    log.info("stopping a dial-out", extra={"participant": participant_id})
                    task.cancel()
        busy = {c.participant_id for c in server.calls.values()} | set(self.dialling)
        for out in await self.participants.claim_dial_outs(busy):
            task = asyncio.create_task(self.dialer.dial(out), name=f"dial-{out.participant_id}")
            self.dialling[out.participant_id] = task
            task.add_done_callback(self._dialled(out.participant_id))

    def _dialled(self, participant_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self.dialling.pop(participant_id, None)

        return done

    async def _destroy_dead_rooms(self, server: CallServer) -> None:
        """Rooms of conferences destroyed, ended or cleaned up (their calls were hung up first)."""
        rooms = list(server.rooms)
        live = await self.participants.live_conferences(rooms)
        for room in rooms:
            if room in live or any(c.conference_id == room for c in server.calls.values()):
                continue
            server.rooms.discard(room)
            try:
                await self.media.destroy_room(room)
            except Exception as exc:  # the engine's own errors: a room left behind is re-used or dropped with Janus
                log.debug("cannot destroy room %s: %s", room, exc)

    async def _hang_up_removed(self, server: CallServer) -> None:
        calls = [c for c in server.calls.values() if not c.ended]
        states = await self.participants.states([c.participant_id for c in calls])
        for call in calls:
            state = states.get(call.participant_id)
            if state is None or state.call_state == "disconnected":
                # in the background: a BYE waits up to Timer F for a dead peer, the next tick must not
                server.spawn(server.hang_up(call, "removed from the conference"))
                self._revision = None  # look again next tick: its room may go once the call is gone
                continue
            if state.audio_rx_muted != call.muted and call.leg is not None:
                call.muted = state.audio_rx_muted
                try:
                    await self.media.set_muted(call.leg, state.audio_rx_muted)
                except Exception as exc:  # the engine's own errors; the next revision retries
                    call.muted = not state.audio_rx_muted
                    log.warning("cannot change mute in the mix: %s", exc)
