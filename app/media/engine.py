"""The media engine: conference rooms and calls' legs in Janus AudioBridge, whichever Janus that is.

The SIP side uses only this: ``ensure_room``/``destroy_room`` per conference (room id = the conference's
``unique_id``), ``join`` per call (its SDP answer carries the returned leg's address), ``update_remote`` on a
re-INVITE that moves the caller's RTP, ``set_muted``, ``leave``. When Janus dies, restarts or stops answering,
every leg is gone: ``on_lost`` callbacks run (the SIP side sends BYE), and once a Janus is back the engine
creates the rooms again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol

import httpx

from app.media import audiobridge
from app.media.errors import MediaError, MediaUnavailable
from app.media.janus_http import janus_client
from app.media.janus_process import JanusEndpoint
from app.media.leg import Codec, MediaLeg
from app.media.live_janus import LegState, LiveJanus

__all__ = ["JanusBackend", "MediaEngine"]

log = logging.getLogger(__name__)

LostCallback = Callable[[], Awaitable[None]]

START_TIMEOUT = 20.0
"""``start`` waits this long for Janus to be usable; after that it returns and the engine keeps trying."""
RECONNECT_DELAY = 1.0
FAILURES_BEFORE_RECYCLE = 3
"""Failed session set-ups on one Janus that answers /info before our own Janus is restarted (it is stuck)."""
STOP_CLEANUP_TIMEOUT = 5.0


class JanusBackend(Protocol):
    """Where the engine's Janus comes from: our own process, or an existing server."""

    async def start(self) -> None: ...

    async def wait_up(self) -> JanusEndpoint: ...

    async def stop(self) -> None: ...

    async def recycle(self, endpoint: JanusEndpoint) -> None:
        """``endpoint`` answers but cannot be used: restart it if it is ours (an external one: nothing)."""


class MediaEngine:
    """Conference mixing through Janus AudioBridge. Start and stop at any time; both are idempotent."""

    def __init__(
        self,
        backend: JanusBackend | None,
        *,
        unavailable_reason: str = "",
        start_timeout: float = START_TIMEOUT,
        shared_janus: bool = False,
    ) -> None:
        self._backend = backend
        self._unavailable_reason = unavailable_reason
        self._start_timeout = start_timeout
        self._shared_janus = shared_janus
        self._rooms: set[int] = set()
        self._live: LiveJanus | None = None
        self._up = asyncio.Event()
        self._callbacks: list[LostCallback] = []
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._started = False
        self._warned = False

    # -- life cycle ------------------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """True while a Janus session is up: ``join`` can work."""
        live = self._live
        return live is not None and not live.session.lost.is_set()

    @property
    def backend(self) -> JanusBackend | None:
        """Where Janus comes from (``JanusSupervisor``, ``ExternalJanus``), None without one."""
        return self._backend

    @property
    def configured(self) -> bool:
        """False when there is no Janus at all (not installed and no ``media.janus_url``)."""
        return self._backend is not None

    async def start(self) -> None:
        """Start (our Janus and) the session; returns once Janus is usable or ``start_timeout`` passed."""
        if self._started:
            return
        self._started = True
        if self._backend is None:
            if not self._warned:
                self._warned = True
                log.warning("media: %s; calls are refused with 503 until it is", self._unavailable_reason)
            return
        self._client = janus_client()
        await self._backend.start()
        self._task = asyncio.create_task(self._run(self._backend, self._client), name="media-engine")
        if not await self.wait_available(self._start_timeout):
            log.warning("media: janus is not up yet; calls get 503 until it is")

    async def wait_available(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for Janus to be usable; returns ``available``."""
        if self._task is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._up.wait()
        return self.available

    async def stop(self) -> None:
        """Stop our Janus (a shared one: our legs leave and our rooms go), close the session.

        No ``on_lost`` callback runs; the rooms are remembered and come back with the next ``start``.
        """
        if not self._started:
            return
        self._started = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        live, self._live = self._live, None
        self._up.clear()
        if live is not None:
            live.cancel_refill()
            if self._shared_janus:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOP_CLEANUP_TIMEOUT):
                        await live.clean_up()
            await live.session.close()
        if self._backend is not None:
            await self._backend.stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        for callback_task in list(self._callback_tasks):
            callback_task.cancel()

    def on_lost(self, callback: LostCallback) -> None:
        """Run ``callback`` (as a task) whenever Janus is lost: every leg is gone then."""
        self._callbacks.append(callback)

    async def _run(self, backend: JanusBackend, client: httpx.AsyncClient) -> None:
        failures = 0
        failed_endpoint: JanusEndpoint | None = None
        while True:
            endpoint = await backend.wait_up()
            if endpoint is not failed_endpoint:
                failures, failed_endpoint = 0, endpoint
            try:
                live = await LiveJanus.connect(client, endpoint, self._rooms)
            except MediaError as exc:
                failures += 1
                log.warning("media: cannot use janus at %s (%s); retrying", endpoint.url, exc)
                if failures >= FAILURES_BEFORE_RECYCLE and not endpoint.gone.is_set():
                    await backend.recycle(endpoint)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            failures, failed_endpoint = 0, None
            self._live = live
            live.refill()
            self._up.set()
            log.info("media: janus ready", extra={"janus": endpoint.url, "rooms": len(live.rooms)})
            lost = asyncio.ensure_future(live.session.lost.wait())
            gone = asyncio.ensure_future(endpoint.gone.wait())
            try:
                await asyncio.wait({lost, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                gone.cancel()
            self._up.clear()
            self._live = None
            live.cancel_refill()
            reason = live.session.lost_reason if live.session.lost.is_set() else "janus exited"
            log.warning(
                "media: janus lost (%s); %d call(s) lose their media, %d room(s) come back with janus",
                reason,
                len(live.legs),
                len(self._rooms),
            )
            live.legs.clear()
            await live.session.close()
            self._fire_lost()

    def _fire_lost(self) -> None:
        for callback in self._callbacks:
            task = asyncio.create_task(self._call_lost(callback), name="media-on-lost")
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)

    @staticmethod
    async def _call_lost(callback: LostCallback) -> None:
        try:
            await callback()
        except Exception:
            log.exception("media: an on_lost callback failed")

    # -- rooms -----------------------------------------------------------------------------------------------

    def _require(self) -> LiveJanus:
        live = self._live
        if live is None or live.session.lost.is_set():
            if self._backend is None:
                raise MediaUnavailable(f"media unavailable: {self._unavailable_reason}")
            raise MediaUnavailable("media unavailable: janus is not up")
        return live

    async def ensure_room(self, room: int) -> None:
        """Make sure ``room`` exists (16 kHz, plain-RTP participants allowed). Idempotent.

        The room is remembered either way: with Janus down this raises ``MediaUnavailable``, and the room is
        created when Janus is back.
        """
        self._rooms.add(room)
        await self._require().ensure_room(room)

    async def destroy_room(self, room: int) -> None:
        """Remove ``room`` and every leg in it from Janus. Idempotent, never raises (a Janus error is logged);
        nothing to do when Janus is down.
        """
        self._rooms.discard(room)
        live = self._live
        if live is None or live.session.lost.is_set():
            return
        for state in [s for s in live.legs.values() if s.leg.room == room]:
            live.legs.pop(state.leg.leg_id, None)
            await self._detach_quietly(live, state.handle)
        live.rooms.discard(room)
        live.room_locks.pop(room, None)
        try:
            await audiobridge.destroy_room(live.session, live.control, room)
        except MediaUnavailable:
            return
        except MediaError as exc:
            log.warning("media: room %d not destroyed: %s", room, exc)

    @staticmethod
    async def _detach_quietly(live: LiveJanus, handle: int) -> None:
        try:
            await live.session.detach(handle)
        except MediaError as exc:
            log.warning("media: a leg did not leave cleanly: %s", exc)

    # -- legs ------------------------------------------------------------------------------------------------

    async def join(
        self,
        room: int,
        *,
        display: str,
        codec: Codec,
        remote_ip: str,
        remote_port: int,
        opus_pt: int | None = None,
    ) -> MediaLeg:
        """Join a call to ``room`` (created if needed); Janus sends the mix to ``remote_ip:remote_port``.

        The leg's ``local_ip``/``local_port`` is where the caller must send its RTP (our SDP answer);
        Janus sends nothing before it has received a first packet there.
        """
        _check_remote(remote_ip, remote_port)
        self._rooms.add(room)
        live = self._require()
        await live.ensure_room(room)
        pt = opus_pt if codec == "opus" else None
        handle, joined = await self._join_handle(live, room, display, codec, remote_ip, remote_port, pt, False)
        leg = MediaLeg(uuid.uuid4().hex, room, joined.ip, joined.port, joined.payload_type, codec)
        if self._live is not live:
            raise MediaUnavailable("media unavailable: janus was lost during the join")
        live.legs[leg.leg_id] = LegState(leg, handle, display, remote_ip, remote_port, pt)
        return leg

    async def _join_handle(
        self,
        live: LiveJanus,
        room: int,
        display: str,
        codec: Codec,
        remote_ip: str,
        remote_port: int,
        payload_type: int | None,
        muted: bool,
    ) -> tuple[int, audiobridge.JoinedParticipant]:
        handle = await live.take_handle()
        try:
            for attempt in (1, 2):
                try:
                    joined = await audiobridge.join_rtp(
                        live.session,
                        handle,
                        room=room,
                        display=display,
                        codec=codec,
                        remote_ip=remote_ip,
                        remote_port=remote_port,
                        payload_type=payload_type,
                        muted=muted,
                    )
                    return handle, joined
                except MediaError as exc:
                    # The room went away behind our back (destroyed by someone else): create it again once.
                    if exc.code != audiobridge.ERR_NO_SUCH_ROOM or attempt == 2:
                        raise
                    live.rooms.discard(room)
                    await live.ensure_room(room)
            raise AssertionError("unreachable")
        except BaseException:
            with contextlib.suppress(MediaError):
                await live.session.detach(handle)
            raise

    def _leg_state(self, live: LiveJanus, leg: MediaLeg) -> LegState:
        state = live.legs.get(leg.leg_id)
        if state is None:
            raise MediaError("no such media leg (it left, or janus was lost since)")
        return state

    async def update_remote(self, leg: MediaLeg, remote_ip: str, remote_port: int) -> MediaLeg:
        """Send the leg's mix to a new caller address (re-INVITE). Janus 1.1 cannot re-point a plain-RTP
        participant, so the call joins again on a new handle first and the old one leaves after: the
        returned leg (same ``leg_id``) may carry a new ``local_port`` for the SDP answer. An unchanged address,
        or ``0.0.0.0`` (RFC 2543 hold: nowhere to send to), keeps the leg as it is.
        """
        _check_remote(remote_ip, remote_port)
        live = self._require()
        state = self._leg_state(live, leg)
        if (state.remote_ip, state.remote_port) == (remote_ip, remote_port) or _unspecified(remote_ip):
            return state.leg
        handle, joined = await self._join_handle(
            live, state.leg.room, state.display, state.leg.codec, remote_ip, remote_port, state.opus_pt, state.muted
        )
        old_handle = state.handle
        state.handle, state.remote_ip, state.remote_port = handle, remote_ip, remote_port
        state.leg = replace(state.leg, local_ip=joined.ip, local_port=joined.port, payload_type=joined.payload_type)
        await self._detach_quietly(live, old_handle)
        return state.leg

    async def set_muted(self, leg: MediaLeg, muted: bool) -> None:
        """Mute (the others stop hearing this caller) or unmute."""
        live = self._require()
        state = self._leg_state(live, leg)
        await audiobridge.configure_muted(live.session, state.handle, muted)
        state.muted = muted

    async def leave(self, leg: MediaLeg) -> None:
        """Take the leg out of its room. Idempotent, never raises (a Janus error is logged); a leg from before
        a Janus loss is already gone.
        """
        live = self._live
        if live is None:
            return
        state = live.legs.pop(leg.leg_id, None)
        if state is not None:
            await self._detach_quietly(live, state.handle)


def _check_remote(remote_ip: str, remote_port: int) -> None:
    """Janus 1.1 sends plain RTP over IPv4 only; anything else would be a leg that silently never hears."""
    try:
        address = ipaddress.ip_address(remote_ip)
    except ValueError:
        raise MediaError(f"not an IP address: {remote_ip!r}") from None
    if address.version != 4:
        raise MediaError("only IPv4 RTP addresses are supported")
    if not 1 <= remote_port <= 65535:
        raise MediaError(f"not a UDP port: {remote_port}")


def _unspecified(remote_ip: str) -> bool:
    return ipaddress.ip_address(remote_ip).is_unspecified
