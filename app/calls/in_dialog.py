"""Requests within a call's dialog: re-INVITE and UPDATE (answered within the running session, hold
included), BYE from the caller, and CANCEL of an INVITE still unanswered."""

from __future__ import annotations

from app.calls.dialog import Call
from app.calls.server_base import (
    MIN_SE,
    CallServerBase,
    answer_sdp,
    log,
    requested_session_timer,
    supports_timer,
)
from app.sip.message import Request
from app.sip.sdp import AudioChoice, SdpError, negotiate, parse_sdp
from app.sip.server_transaction import ServerTransaction, make_response


class InDialogRequests(CallServerBase):
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
        body = answer_sdp(call, offer, choice)
        call.local_sdp = body
        return body

    def _refresh_timer(self, tx: ServerTransaction, call: Call) -> None:
        se, refresher = requested_session_timer(tx.request)
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
            if supports_timer(tx.request):
                headers.append(("Require", "timer"))
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
