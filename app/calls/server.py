"""The SIP user agent server of the owner process: answers INVITEs into conferences and runs their dialogs.

Routing (RFC 3261 answers): the Request-URI user part is a conference ``numericId`` (chair) or
``guestNumericId`` (guest); unknown 404, not started or over 480, locked 403, PIN 403 (with a Reason: PIN
entry is not supported yet), full 486, no media engine 503 with Retry-After, bad SDP 400, SRTP-only or no
common codec 488. Early offer (SDP in the INVITE) and delayed offer (we offer in the 200, the answer comes
in the ACK) both work; re-INVITE and UPDATE answer within the session (hold included); Session-Expires is
honoured as a UAS (RFC 4028) with the caller as refresher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from app.calls.dialog import Call, copy_record_route, display_name, header_param, name_addr_uri, route_set_of
from app.calls.media import MediaEngineLike
from app.conferences.calls import CallAdmission, CallParticipants
from app.sip.client import SipUserAgent, new_tag
from app.sip.message import Headers, Request, Response, split_comma_list
from app.sip.sdp import AudioChoice, SdpError, SessionDescription, build_answer, build_offer, negotiate, parse_sdp
from app.sip.server_transaction import ServerTransaction, ServerTransactions, make_response
from app.sip.transaction import T1, T2, TransactionTimeoutError, new_branch
from app.sip.transport import Addr, SipTransport
from app.sip.uri import SipUriError, parse_uri

__all__ = ["ALLOW", "CallServer"]

log = logging.getLogger("adhoc.calls")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"
MIN_SE = 90
RETRY_AFTER_SECONDS = 30
_REFUSALS: dict[str, tuple[int, str, str | None]] = {
    "unknown": (404, "Not Found", None),
    "inactive": (480, "Temporarily Unavailable", None),
    "locked": (403, "Forbidden", 'SIP;cause=403;text="conference is locked"'),
    "pin": (403, "Forbidden", 'SIP;cause=403;text="PIN entry is not supported yet"'),
    "full": (486, "Busy Here", None),
}


class CallServer:
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
        task.add_done_callback(_log_failure)
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

    # -- entry point -----------------------------------------------------------------------------------

    def on_request(self, request: Request, addr: Addr, transport: SipTransport) -> None:
        if request.call_id is None or request.cseq is None or request.top_via_branch is None:
            return  # RFC 3261 §8.2: no usable response can be built
        if self.transactions.absorb(request):
            return
        method = request.method
        if method == "ACK":
            self._on_ack(request)
            return
        tx = self.transactions.create(request, addr, transport)
        if method == "INVITE":
            if header_param(request.headers.get("To") or "", "tag"):
                self._spawn(self._reinvite(tx))
            else:
                self._spawn(self._invite(tx))
        elif method == "BYE":
            self._spawn(self._bye(tx))
        elif method == "CANCEL":
            self._spawn(self._cancel(tx))
        elif method == "UPDATE":
            self._spawn(self._update(tx))
        elif method == "OPTIONS":
            self._spawn(self._options(tx))
        else:
            self._spawn(self._not_allowed(tx))

    async def _not_allowed(self, tx: ServerTransaction) -> None:
        await self._reply(tx, 405, "Method Not Allowed", headers=[("Allow", ALLOW)])

    async def _options(self, tx: ServerTransaction) -> None:
        await self._reply(
            tx,
            200,
            "OK",
            headers=[("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", "timer")],
        )

    # -- new calls -------------------------------------------------------------------------------------

    async def _invite(self, tx: ServerTransaction) -> None:
        branch = tx.request.top_via_branch or ""
        await self._reply(tx, 100, "Trying")
        self._pending[branch] = None
        try:
            await self._setup(tx)
        finally:
            self._pending.pop(branch, None)
            self._cancelled.discard(branch)

    async def _setup(self, tx: ServerTransaction) -> None:
        req = tx.request
        to_tag = new_tag()
        required = [r.strip().lower() for row in req.headers.get_all("Require") for r in split_comma_list(row)]
        unsupported = [r for r in required if r != "timer"]
        if unsupported:
            await self._reply(
                tx, 420, "Bad Extension", to_tag=to_tag, headers=[("Unsupported", ", ".join(unsupported))]
            )
            return
        offer: SessionDescription | None = None
        choice: AudioChoice | None = None
        if req.body.strip():
            ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/sdp":
                await self._reply(
                    tx, 415, "Unsupported Media Type", to_tag=to_tag, headers=[("Accept", "application/sdp")]
                )
                return
            try:
                offer = parse_sdp(req.body)
                choice = negotiate(offer)
            except SdpError as exc:
                reason = "Bad Request" if exc.status == 400 else "Not Acceptable Here"
                warning = f'399 adhoc-bridge "{exc.reason}"'
                await self._reply(tx, exc.status, reason, to_tag=to_tag, headers=[("Warning", warning)])
                return
        session_expires, refresher = _session_timer(req)
        if session_expires is not None and session_expires < MIN_SE:
            await self._reply(tx, 422, "Session Interval Too Small", to_tag=to_tag, headers=[("Min-SE", str(MIN_SE))])
            return
        try:
            numeric_id = parse_uri(req.uri).user or ""
        except SipUriError:
            numeric_id = ""
        frm = req.headers.get("From") or ""
        display = display_name(frm)
        address = name_addr_uri(frm)
        refusal = await self.participants.admit(numeric_id, display_name=display, address=address, dry_run=True)
        if refusal is None and not self.media.available:
            refusal = "media"
        if isinstance(refusal, str):
            await self._refuse(tx, refusal, to_tag)
            return
        admission = await self.participants.admit(numeric_id, display_name=display, address=address)
        if isinstance(admission, str) or admission is None:
            await self._refuse(tx, admission or "unknown", to_tag)
            return
        call = self._new_call(tx, admission, to_tag, display)
        self._pending[req.top_via_branch or ""] = call
        log.info(
            "incoming call", extra={"conference": admission.conference_name, "participant": admission.participant_id}
        )
        try:
            await self.media.ensure_room(admission.conference_id)
            self.rooms.add(admission.conference_id)
            if choice is not None and offer is not None:
                call.choice = choice
                call.leg = await self.media.join(
                    admission.conference_id,
                    display=display,
                    codec=choice.codec,
                    remote_ip=choice.remote_ip,
                    remote_port=choice.remote_port,
                    opus_pt=choice.payload_type if choice.codec == "opus" else None,
                )
                body = build_answer(
                    offer,
                    choice,
                    local_ip=call.leg.local_ip,
                    local_port=call.leg.local_port,
                    session_id=call.session_id,
                    version=call.sdp_version,
                )
            else:
                call.leg = await self.media.join(
                    admission.conference_id, display=display, codec="pcmu", remote_ip=tx.addr[0], remote_port=9
                )
                call.answer_in_ack = True
                body = self._offer(call)
        except Exception as exc:
            log.warning("media engine refused a call: %s", exc, extra={"conference": admission.conference_name})
            await self._reply(
                tx, 503, "Service Unavailable", to_tag=to_tag, headers=[("Retry-After", str(RETRY_AFTER_SECONDS))]
            )
            await self._finish(call)
            return
        if tx.final or call.ended:  # CANCEL (487) or a hang-up arrived while we were joining
            await self._finish(call)
            return
        call.session_expires, call.refresher = session_expires, refresher
        call.local_sdp = body
        resp = self._ok(tx, call, body)
        await self.transactions.respond(tx, resp)
        await self._await_ack(call, resp)

    async def _refuse(self, tx: ServerTransaction, refusal: str, to_tag: str) -> None:
        if refusal == "media":
            await self._reply(
                tx, 503, "Service Unavailable", to_tag=to_tag, headers=[("Retry-After", str(RETRY_AFTER_SECONDS))]
            )
            return
        status, reason, why = _REFUSALS.get(refusal, (404, "Not Found", None))
        await self._reply(tx, status, reason, to_tag=to_tag, headers=[("Reason", why)] if why else [])

    def _new_call(self, tx: ServerTransaction, admission: CallAdmission, to_tag: str, display: str) -> Call:
        req = tx.request
        frm = req.headers.get("From") or ""
        contact = req.headers.get("Contact")
        call = Call(
            call_id=req.call_id or "",
            local_tag=to_tag,
            remote_tag=header_param(frm, "tag") or "",
            remote_from=frm,
            local_to=f"{req.headers.get('To') or ''};tag={to_tag}",
            remote_target=name_addr_uri(split_comma_list(contact)[0]) if contact else name_addr_uri(frm),
            route_set=route_set_of(req),
            transport=tx.transport,
            addr=tx.addr,
            participant_id=admission.participant_id,
            conference_id=admission.conference_id,
            conference_name=admission.conference_name,
            display=display,
            invite=tx,
            remote_cseq=req.cseq[0] if req.cseq else 0,
        )
        self.calls[call.key] = call
        return call

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
            if _supports_timer(tx.request):
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

    # -- in-dialog requests ----------------------------------------------------------------------------

    def _dialog(self, request: Request) -> Call | None:
        key = Call.key_of(request)
        return self.calls.get(key) if key is not None else None

    async def _in_dialog(self, tx: ServerTransaction) -> Call | None:
        call = self._dialog(tx.request)
        if call is None or call.ended:
            await self._reply(tx, 481, "Call/Transaction Does Not Exist")
            return None
        cseq = tx.request.cseq[0] if tx.request.cseq else 0
        if cseq <= call.remote_cseq:
            await self._reply(tx, 500, "Server Internal Error", headers=[("Retry-After", "1")])
            return None
        call.remote_cseq = cseq
        return call

    async def _session_answer(self, tx: ServerTransaction, call: Call) -> bytes | None:
        """Answer a re-offer within the running session (same leg); None after an error reply."""
        req = tx.request
        try:
            offer = parse_sdp(req.body)
            choice = negotiate(offer, prefer=call.choice.codec if call.choice else None)
        except SdpError as exc:
            await self._reply(tx, exc.status, "Bad Request" if exc.status == 400 else "Not Acceptable Here")
            return None
        if call.leg is None or choice.codec != call.leg.codec:
            await self._reply(tx, 488, "Not Acceptable Here", headers=[("Warning", '305 adhoc-bridge "codec change"')])
            return None
        moved = call.choice is None or (choice.remote_ip, choice.remote_port) != (
            call.choice.remote_ip,
            call.choice.remote_port,
        )
        if moved and not choice.on_hold:
            try:
                call.leg = await self.media.update_remote(call.leg, choice.remote_ip, choice.remote_port)
            except Exception:
                await self._reply(tx, 500, "Server Internal Error", headers=[("Retry-After", "5")])
                return None
        if not choice.on_hold or call.choice is None:
            call.choice = choice
        else:
            call.choice = AudioChoice(
                codec=choice.codec,
                payload_type=choice.payload_type,
                remote_ip=call.choice.remote_ip,
                remote_port=call.choice.remote_port,
                direction=choice.direction,
                telephone_event=choice.telephone_event,
                mline=choice.mline,
                on_hold=True,
            )
        call.sdp_version += 1
        assert call.leg is not None
        body = build_answer(
            offer,
            choice,
            local_ip=call.leg.local_ip,
            local_port=call.leg.local_port,
            session_id=call.session_id,
            version=call.sdp_version,
        )
        call.local_sdp = body
        return body

    def _refresh_timer(self, tx: ServerTransaction, call: Call) -> None:
        se, refresher = _session_timer(tx.request)
        if se is not None:
            call.session_expires, call.refresher = max(se, MIN_SE), refresher
        call.refreshed.set()

    async def _reinvite(self, tx: ServerTransaction) -> None:
        call = await self._in_dialog(tx)
        if call is None:
            return
        if not call.confirmed:
            await self._reply(tx, 491, "Request Pending")
            return
        if tx.request.body.strip():
            body = await self._session_answer(tx, call)
            if body is None:
                return
        else:
            call.sdp_version += 1
            call.answer_in_ack = True
            body = self._offer(call)
        self._refresh_timer(tx, call)
        call.invite = tx
        resp = self._ok(tx, call, body)
        await self.transactions.respond(tx, resp)
        await self._await_ack(call, resp)

    async def _update(self, tx: ServerTransaction) -> None:
        call = await self._in_dialog(tx)
        if call is None:
            return
        body = b""
        if tx.request.body.strip():
            answer = await self._session_answer(tx, call)
            if answer is None:
                return
            body = answer
        self._refresh_timer(tx, call)
        headers: list[tuple[str, str]] = [("Contact", self._local_contact(call.transport))]
        if call.session_expires is not None:
            headers.append(("Session-Expires", f"{call.session_expires};refresher={call.refresher or 'uac'}"))
        resp = make_response(tx.request, 200, "OK", to_tag=call.local_tag, headers=headers)
        if body:
            resp.headers.add("Content-Type", "application/sdp")
            resp.body = body
        await self.transactions.respond(tx, resp)

    async def _bye(self, tx: ServerTransaction) -> None:
        call = self._dialog(tx.request)
        if call is None:
            await self._reply(tx, 481, "Call/Transaction Does Not Exist")
            return
        await self._reply(tx, 200, "OK", to_tag=call.local_tag)
        log.info("caller hung up", extra={"participant": call.participant_id})
        await self._finish(call)

    async def _cancel(self, tx: ServerTransaction) -> None:
        invite = self.transactions.find_invite(tx.request.top_via_branch)
        if invite is None:
            await self._reply(tx, 481, "Call/Transaction Does Not Exist")
            return
        await self._reply(tx, 200, "OK")
        if invite.final:
            return
        branch = invite.request.top_via_branch or ""
        self._cancelled.add(branch)
        call = self._pending.get(branch)
        await self._reply(invite, 487, "Request Terminated", to_tag=call.local_tag if call else None)
        if call is not None:
            await self._finish(call)

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

    def _in_dialog_request(self, call: Call, method: str, *, cseq: int | None = None, body: bytes = b"") -> Request:
        transport = call.transport
        host, port = self.ua.local_addr
        sent_by = (f"[{host}]" if ":" in host else host) + f":{port}"
        req = Request(headers=Headers(), body=body, method=method, uri=call.remote_target)
        req.headers.add("Via", f"SIP/2.0/{transport.name} {sent_by};rport;branch={new_branch()}")
        req.headers.add("Max-Forwards", "70")
        for name, value in call.dialog_headers(method, cseq=cseq):
            req.headers.add(name, value)
        req.headers.add("User-Agent", "adhoc-bridge")
        if body:
            req.headers.add("Contact", self._local_contact(transport))
            req.headers.add("Content-Type", "application/sdp")
        return req

    async def _next_hop(self, call: Call) -> Addr:
        if call.transport.reliable:
            return call.addr
        target = name_addr_uri(call.route_set[0]) if call.route_set else call.remote_target
        return await self.ua.resolve(parse_uri(target))

    async def _send_in_dialog(self, call: Call, method: str, body: bytes = b"") -> Response | None:
        req = self._in_dialog_request(call, method, body=body)
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

    async def _session_timer(self, call: Call) -> None:
        """RFC 4028: the caller refreshes before expiry, else we end the call; as refresher we send UPDATE."""
        while not call.ended and call.session_expires is not None:
            se = call.session_expires
            if call.refresher == "uas":
                await asyncio.sleep(se / 2)
                resp = await self._send_in_dialog(call, "UPDATE")
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


def _supports_timer(request: Request) -> bool:
    rows = request.headers.get_all("Supported") + request.headers.get_all("Require")
    return any(opt.strip().lower() == "timer" for row in rows for opt in split_comma_list(row))


def _session_timer(request: Request) -> tuple[int | None, str | None]:
    value = request.headers.get("Session-Expires")
    if value is None:
        return None, None
    head = value.split(";", 1)[0].strip()
    if not head.isdigit():
        return None, None
    refresher = header_param(value, "refresher")
    if refresher not in ("uac", "uas"):
        refresher = "uac" if _supports_timer(request) else "uas"
    if refresher == "uas" and not _supports_timer(request):
        refresher = "uas"
    return int(head), refresher


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("call task failed", exc_info=task.exception())
