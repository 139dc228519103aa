"""The SIP user agent server of the owner process: answers INVITEs into conferences and runs their dialogs.

Routing (RFC 3261 answers): the Request-URI user part is a conference ``numericId`` (chair) or
``guestNumericId`` (guest); unknown 404, not started or over 480, locked 403, PIN 403 (with a Reason: PIN
entry is not supported yet), full 486, no media engine 503 with Retry-After, bad SDP 400, SRTP-only or no
common codec 488. Early offer (SDP in the INVITE) and delayed offer (we offer in the 200, the answer comes
in the ACK) both work; re-INVITE and UPDATE answer within the session (hold included); Session-Expires is
honoured as a UAS (RFC 4028) with either side as the refresher.
"""

from __future__ import annotations

from app.calls.dialog import Call, display_name, header_param, name_addr_uri, route_set_of
from app.calls.in_dialog import InDialogRequests
from app.calls.server_base import ALLOW, MIN_SE, answer_sdp, log, requested_session_timer
from app.conferences.calls import CallAdmission
from app.sip.client import new_tag
from app.sip.message import Request, split_comma_list
from app.sip.sdp import AudioChoice, SdpError, SessionDescription, negotiate, parse_sdp
from app.sip.server_transaction import ServerTransaction
from app.sip.transport import Addr, SipTransport
from app.sip.uri import SipUriError, parse_uri

__all__ = ["ALLOW", "CallServer"]

RETRY_AFTER_SECONDS = 30
_REFUSALS: dict[str, tuple[int, str, str | None]] = {
    "unknown": (404, "Not Found", None),
    "inactive": (480, "Temporarily Unavailable", None),
    "locked": (403, "Forbidden", 'SIP;cause=403;text="conference is locked"'),
    "pin": (403, "Forbidden", 'SIP;cause=403;text="PIN entry is not supported yet"'),
    "full": (486, "Busy Here", None),
}


class CallServer(InDialogRequests):
    """Answers INVITEs into conferences (see the module docstring); the dialogs' requests are inherited."""

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
        session_expires, refresher = requested_session_timer(req)
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
        if not self.media.available:  # routing answers first (404, 480, ...), then 503
            refusal = await self.participants.admit(numeric_id, display_name=display, address=address, dry_run=True)
            await self._refuse(tx, refusal if isinstance(refusal, str) else "media", to_tag)
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
                body = answer_sdp(call, offer, choice)
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
