"""What every part of the call server shares: its state, its tasks, replies, the 200 OK and its ACK, the
session timer, in-dialog requests of our own, and ending a call (``_finish``, ``hang_up``).

``CallServer`` (``server.py``, new INVITEs) builds on ``InDialogRequests`` (``in_dialog.py``: re-INVITE, UPDATE,
BYE, CANCEL), which builds on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from app.calls.dialog import Call, copy_record_route, header_param, name_addr_uri
from app.calls.media import MediaEngineLike
from app.conferences.calls import CallParticipants
from app.sip.client import SipUserAgent
from app.sip.message import Headers, Request, Response, split_comma_list
from app.sip.sdp import AudioChoice, SdpError, SessionDescription, build_answer, build_offer, negotiate, parse_sdp
from app.sip.server_transaction import ServerTransaction, ServerTransactions, make_response
from app.sip.transaction import T1, T2, TransactionTimeoutError, new_branch
from app.sip.transport import Addr, SipTransport
from app.sip.uri import SipUriError, parse_uri

log = logging.getLogger("adhoc.calls")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"
MIN_SE = 90


class CallServerBase:
    def __init__(
        self,
        ua: SipUserAgent,
        media: MediaEngineLike,
        participants: CallParticipants,
        *,
        t1: float = T1,
        t2: float = T2,
    ) -> None:
        self.ua = ua
        self.media = media
        self.participants = participants
        self.t1 = t1
        self.t2 = t2
        self.transactions = ServerTransactions(t1=t1, t2=t2)
        self.calls: dict[tuple[str, str, str], Call] = {}
        self._pending: dict[str, Call | None] = {}  # INVITE branch -> call being set up (None: not yet)
        self._cancelled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.rooms: set[int] = set()
        """Mixing rooms this server made sure of (one per conference); the owner destroys dead ones."""

    # -- plumbing --------------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as one of the server's tasks (cancelled on close)."""
        self._spawn(coro)

    def _spawn(self, coro: Coroutine[Any, Any, None], call: Call | None = None) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_failure)
        if call is not None:
            call.tasks.add(task)
            task.add_done_callback(call.tasks.discard)

    def _local_contact(self, transport: SipTransport) -> str:
        uri = self.ua.contact_uri()
        return f"<{uri};transport=tcp>" if transport.reliable else f"<{uri}>"

    async def _reply(self, tx: ServerTransaction, status: int, reason: str, **kw: Any) -> Response:
        resp = make_response(tx.request, status, reason, **kw)
        await self.transactions.respond(tx, resp)
        return resp

    async def close(self) -> None:
        """Hang up every call (BYE, bounded) and stop the transactions."""
        calls = list(self.calls.values())
        if calls:
            await asyncio.wait([asyncio.ensure_future(self.hang_up(c, "shutdown")) for c in calls], timeout=3)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.transactions.close()

    def _offer(self, call: Call) -> bytes:
        assert call.leg is not None
        return build_offer(
            local_ip=call.leg.local_ip,
            local_port=call.leg.local_port,
            session_id=call.session_id,
            version=call.sdp_version,
            codecs=("pcmu",) if call.choice is None else (call.choice.codec,),
        )

    def _ok(self, tx: ServerTransaction, call: Call, body: bytes) -> Response:
        headers: list[tuple[str, str]] = [
            ("Contact", self._local_contact(call.transport)),
            ("Allow", ALLOW),
            ("Supported", "timer"),
        ]
        if call.session_expires is not None:
            headers.append(("Session-Expires", f"{call.session_expires};refresher={call.refresher or 'uac'}"))
            if supports_timer(tx.request):
                headers.append(("Require", "timer"))
        resp = make_response(tx.request, 200, "OK", to_tag=call.local_tag, headers=headers)
        copy_record_route(tx.request, resp)
        if body:
            resp.headers.add("Content-Type", "application/sdp")
            resp.body = body
        return resp

    async def _await_ack(self, call: Call, resp: Response) -> None:
        """Retransmit the 2xx until the ACK (RFC 3261 §13.3.1.4); no ACK in 64*T1 ends the call."""
        call.ack.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 64 * self.t1
        interval = self.t1
        data = resp.to_bytes()
        while not call.ack.is_set() and not call.ended:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.info("no ACK for the 200 OK; ending the call", extra={"participant": call.participant_id})
                await self.hang_up(call, "no ACK")
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining if call.transport.reliable else min(interval, remaining)):
                    await call.ack.wait()
            if call.ack.is_set() or call.ended:
                break
            with contextlib.suppress(OSError):
                await call.transport.send(data, call.addr)
            interval = min(2 * interval, self.t2)
        if call.ended:
            return
        if not call.confirmed:
            call.confirmed = True
            await self.participants.connected(call.participant_id)
            if call.session_expires is not None:
                self._spawn(self._session_timer(call), call)
        call.ack_done.set()

    def _on_ack(self, request: Request) -> None:
        key = Call.key_of(request)
        call = self.calls.get(key) if key is not None else None
        if call is None or call.ack.is_set():
            return
        if call.answer_in_ack:
            call.answer_in_ack = False
            self._spawn(self._answer_in_ack(call, request.body), call)
            return
        call.ack.set()

    async def _answer_in_ack(self, call: Call, body: bytes) -> None:
        try:
            choice = negotiate(parse_sdp(body), prefer="pcmu")
            if choice.codec != "pcmu":
                raise SdpError(488, "answer changed the codec")
        except SdpError as exc:
            log.info("unusable SDP answer in ACK (%s); ending the call", exc.reason)
            call.ack.set()
            await self.hang_up(call, "bad SDP answer")
            return
        call.choice = choice
        moved = False
        if call.leg is not None and not choice.on_hold:
            port = call.leg.local_port
            try:
                call.leg = await self.media.update_remote(call.leg, choice.remote_ip, choice.remote_port)
            except Exception as exc:  # the engine's errors: without the caller's address it hears nothing
                log.warning("cannot point the media at the caller: %s", exc)
                call.ack.set()
                await self.hang_up(call, "media update failed")
                return
            moved = call.leg.local_port != port
        call.ack.set()
        if moved:  # the engine re-pointed the leg on a new port: tell the caller (re-INVITE)
            await call.ack_done.wait()
            await self.reoffer(call)

    # -- ending calls ----------------------------------------------------------------------------------

    async def hang_up(self, call: Call, reason: str) -> None:
        """The bridge ends the call: BYE once confirmed (or 487/480 to an INVITE still unanswered)."""
        if call.ended:
            return
        log.info("hanging up", extra={"participant": call.participant_id, "reason": reason})
        if not call.invite.final:
            await self._reply(call.invite, 480, "Temporarily Unavailable", to_tag=call.local_tag)
            await self._finish(call, reason)
            return
        await self._finish(call, reason)
        await self._send_in_dialog(call, "BYE")

    async def _finish(self, call: Call, reason: str = "remoteTeardown") -> None:
        if call.ended:
            return
        call.ended = True
        call.ack_done.set()
        if call.watched_branch is not None:
            self.ua.transactions.unwatch(call.watched_branch, "INVITE")
        call.ack.set()
        self.calls.pop(call.key, None)
        current = asyncio.current_task()
        for task in list(call.tasks):
            if task is not current:
                task.cancel()
        leg, call.leg = call.leg, None
        if leg is not None:
            try:
                await self.media.leave(leg)
            except Exception as exc:
                log.debug("media leave failed: %s", exc)
        if call.outgoing:
            await self.participants.dial_ended(call.participant_id, reason)
        else:
            await self.participants.ended(call.participant_id)

    def _in_dialog_request(
        self,
        call: Call,
        method: str,
        *,
        cseq: int | None = None,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        transport = call.transport
        host, port = self.ua.local_addr
        sent_by = (f"[{host}]" if ":" in host else host) + f":{port}"
        req = Request(headers=Headers(), body=body, method=method, uri=call.remote_target)
        req.headers.add("Via", f"SIP/2.0/{transport.name} {sent_by};rport;branch={new_branch()}")
        req.headers.add("Max-Forwards", "70")
        for name, value in call.dialog_headers(method, cseq=cseq):
            req.headers.add(name, value)
        req.headers.add("User-Agent", "adhoc-bridge")
        for name, value in headers:
            req.headers.add(name, value)
        if body or method in ("INVITE", "UPDATE"):  # target refresh requests carry our Contact (RFC 3311 section 5.1)
            req.headers.add("Contact", self._local_contact(transport))
        if body:
            req.headers.add("Content-Type", "application/sdp")
        return req

    async def _next_hop(self, call: Call) -> Addr:
        if call.transport.reliable:
            return call.addr
        target = name_addr_uri(call.route_set[0]) if call.route_set else call.remote_target
        return await self.ua.resolve(parse_uri(target))

    async def _send_in_dialog(
        self, call: Call, method: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
    ) -> Response | None:
        req = self._in_dialog_request(call, method, body=body, headers=headers)
        try:
            addr = await self._next_hop(call)
            return await self.ua.transactions.send(req, addr, call.transport)
        except (TransactionTimeoutError, OSError, SipUriError) as exc:
            log.info("%s got no answer: %s", method, exc, extra={"participant": call.participant_id})
            return None

    async def reoffer(self, call: Call) -> None:
        """re-INVITE with our current address: the engine gave the leg a new port when it re-pointed it."""
        call.sdp_version += 1
        body = self._offer(call)
        call.local_sdp = body
        req = self._in_dialog_request(call, "INVITE", body=body)
        try:
            addr = await self._next_hop(call)
            resp = await self.ua.transactions.send(req, addr, call.transport)
        except (TransactionTimeoutError, OSError, SipUriError) as exc:
            log.info("re-INVITE got no answer: %s", exc, extra={"participant": call.participant_id})
            await self.hang_up(call, "re-INVITE failed")
            return
        if resp.status >= 300:
            if resp.status in (408, 481):
                await self.hang_up(call, f"re-INVITE {resp.status}")
            return
        ack = self._in_dialog_request(call, "ACK", cseq=call.local_cseq)
        with contextlib.suppress(OSError):
            await call.transport.send(ack.to_bytes(), addr)

    async def _refresh_by_reinvite(self, call: Call, headers: Sequence[tuple[str, str]]) -> Response | None:
        """A session refresh by re-INVITE with our SDP as it is (same version: no change), ACKed when answered."""
        req = self._in_dialog_request(call, "INVITE", body=call.local_sdp, headers=headers)
        try:
            addr = await self._next_hop(call)
            resp = await self.ua.transactions.send(req, addr, call.transport)
        except (TransactionTimeoutError, OSError, SipUriError) as exc:
            log.info("re-INVITE got no answer: %s", exc, extra={"participant": call.participant_id})
            return None
        if resp.status < 300:
            ack = self._in_dialog_request(call, "ACK", cseq=call.local_cseq)
            with contextlib.suppress(OSError):
                await call.transport.send(ack.to_bytes(), addr)
        return resp

    async def _session_timer(self, call: Call) -> None:
        """RFC 4028: the caller refreshes before expiry, else we end the call; as refresher we send UPDATE (a
        re-INVITE to a peer whose Allow lacks UPDATE, or that refuses it with 405/501)."""
        while not call.ended and call.session_expires is not None:
            se = call.session_expires
            if call.refresher == "uas":
                await asyncio.sleep(se / 2)
                # the refresh names us its refresher again: without Session-Expires the peer's timer would stop
                timer = [("Supported", "timer"), ("Session-Expires", f"{se};refresher=uac")]
                update = allows_update(call.invite.request)
                resp = await self._send_in_dialog(call, "UPDATE", headers=timer) if update else None
                if not update or (resp is not None and resp.status in (405, 501)):
                    resp = await self._refresh_by_reinvite(call, timer)
                if resp is None or resp.status in (404, 408, 410, 416, 480, 481, 482, 483, 484, 485, 502, 604):
                    await self.hang_up(call, "session refresh failed")
                    return
                continue
            call.refreshed.clear()
            try:
                async with asyncio.timeout(se - min(32, se / 3)):
                    await call.refreshed.wait()
            except TimeoutError:
                await self.hang_up(call, "session expired")
                return


def answer_sdp(call: Call, offer: SessionDescription, choice: AudioChoice) -> bytes:
    """Our answer to ``offer``: the call's media leg, in the call's SDP session at its current version."""
    assert call.leg is not None
    return build_answer(
        offer,
        choice,
        local_ip=call.leg.local_ip,
        local_port=call.leg.local_port,
        session_id=call.session_id,
        version=call.sdp_version,
    )


def allows_update(request: Request) -> bool:
    """The peer takes UPDATE: its Allow lists it, or it sent no Allow (nothing said otherwise)."""
    rows = request.headers.get_all("Allow")
    return not rows or any(method.strip().upper() == "UPDATE" for row in rows for method in split_comma_list(row))


def supports_timer(request: Request) -> bool:
    rows = request.headers.get_all("Supported") + request.headers.get_all("Require")
    return any(opt.strip().lower() == "timer" for row in rows for opt in split_comma_list(row))


def requested_session_timer(request: Request) -> tuple[int | None, str | None]:
    value = request.headers.get("Session-Expires")
    if value is None:
        return None, None
    head = value.split(";", 1)[0].strip()
    if not head.isdigit():
        return None, None
    refresher = header_param(value, "refresher")
    if refresher not in ("uac", "uas"):
        refresher = "uac" if supports_timer(request) else "uas"
    if refresher == "uas" and not supports_timer(request):
        refresher = "uas"
    return int(head), refresher


def log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("call task failed", exc_info=task.exception())
