"""Dial-out: ``participant.add`` by address places a real call (INVITE client transaction, RFC 3261 §17.1.1).

Through ``sip.outbound_proxy`` when set; 401/407 are answered with the SIP credential of the challenge's
realm (the lookup registrations use), and a refused credential ends the attempt (no retry loop). We offer
PCMU (early offer) from a Janus leg joined beforehand; the 2xx's answer points the leg at the callee. A
failure leaves the participant ``disconnected`` with a short reason (``disconnectReason``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from app.calls.dialog import Call, header_param, name_addr_uri
from app.calls.server import ALLOW, CallServer
from app.conferences.calls import DialOut
from app.sip.client import USER_AGENT, new_tag
from app.sip.digest import CredentialLookup, DigestError, DigestSession, NoCredentialError
from app.sip.message import Headers, Request, Response, split_comma_list
from app.sip.sdp import SdpError, build_offer, negotiate, parse_sdp
from app.sip.server_transaction import ServerTransaction
from app.sip.settings import SipSettings
from app.sip.transaction import new_branch
from app.sip.transport import Addr, SipTransport
from app.sip.uri import SipUriError, parse_uri

__all__ = ["Dialer"]

log = logging.getLogger("adhoc.calls")

RING_SECONDS = 60.0


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Dialer:
    def __init__(self, server: CallServer, settings: SipSettings, lookup: CredentialLookup) -> None:
        self.server = server
        self.settings = settings
        self.lookup = lookup

    async def dial(self, out: DialOut) -> None:
        """Place the call; on any failure the participant shows ``disconnected`` with the reason."""
        server = self.server
        leg = None
        try:
            address = out.address if out.address.startswith(("sip:", "sips:")) else f"sip:{out.address}"
            try:
                target = parse_uri(address)
            except SipUriError:
                raise _Failed("invalid address") from None
            if target.scheme != "sip":
                raise _Failed("sips is not supported")
            proxy = self.settings.outbound_proxy_uri
            hop = proxy or target
            transport = server.ua.transport(self.settings.transport_for(hop))
            try:
                addr = await server.ua.resolve(hop)
            except OSError:
                raise _Failed("cannot resolve host") from None
            await server.media.ensure_room(out.conference_id)
            server.rooms.add(out.conference_id)
            leg = await server.media.join(
                out.conference_id, display=out.display, codec="pcmu", remote_ip=addr[0], remote_port=9
            )
            await self._invite(out, address, addr, transport, leg)
            leg = None  # the call owns it now
        except _Failed as failed:
            log.info("dial-out failed: %s", failed.reason, extra={"participant": out.participant_id})
            await server.participants.dial_ended(out.participant_id, failed.reason)
        except asyncio.CancelledError:
            await server.participants.dial_ended(out.participant_id, "localTeardown")
            raise
        except Exception as exc:  # the media engine's own errors
            log.warning("dial-out failed: %s", exc, extra={"participant": out.participant_id})
            await server.participants.dial_ended(out.participant_id, "media unavailable")
        finally:
            if leg is not None:
                with contextlib.suppress(Exception):
                    await server.media.leave(leg)

    async def _invite(self, out: DialOut, uri: str, addr: Addr, transport: SipTransport, leg: object) -> None:
        server = self.server
        host, port = server.ua.local_addr
        sent_by = (f"[{host}]" if ":" in host else host) + f":{port}"
        local_from = f'"{out.conference_name}" <sip:{USER_AGENT}@{sent_by}>;tag={new_tag()}'
        call_id = f"{secrets.token_hex(12)}@{host}"
        session_id = secrets.randbelow(2**31)
        local_ip = getattr(leg, "local_ip", host)
        local_port = int(getattr(leg, "local_port", 0))
        body = build_offer(local_ip=local_ip, local_port=local_port, session_id=session_id, version=1, codecs=("pcmu",))
        tracker = DigestSession(self.lookup, min_algorithm=self.settings.min_digest_algorithm).tracker()
        proxy = self.settings.outbound_proxy_uri
        cseq = 1
        while True:
            req = Request(headers=Headers(), body=body, method="INVITE", uri=uri)
            h = req.headers
            branch = new_branch()
            h.add("Via", f"SIP/2.0/{transport.name} {sent_by};rport;branch={branch}")
            h.add("Max-Forwards", "70")
            if proxy is not None:
                h.add("Route", f"<{proxy}{'' if 'lr' in proxy.params else ';lr'}>")
            h.add("From", local_from)
            h.add("To", f"<{uri}>")
            h.add("Call-ID", call_id)
            h.add("CSeq", f"{cseq} INVITE")
            h.add("Contact", server._local_contact(transport))
            h.add("Allow", ALLOW)
            h.add("User-Agent", USER_AGENT)
            for name, value in tracker.credential_rows():
                h.add(name, value)
            h.add("Content-Type", "application/sdp")
            resp = await self._transaction(req, branch, addr, transport)
            if resp.status in (401, 407):
                try:
                    await tracker.answer(resp.headers.rows, method="INVITE", uri=uri, body=body)
                except NoCredentialError:
                    raise _Failed(f"no SIP credential ({resp.status})") from None
                except DigestError:
                    raise _Failed(f"credential refused ({resp.status})") from None
                cseq += 1
                continue
            if resp.status >= 300:
                raise _Failed(f"{resp.status} {resp.reason}"[:32])
            await self._established(out, req, resp, branch, addr, transport, leg, session_id, body)
            return

    async def _transaction(self, req: Request, branch: str, addr: Addr, transport: SipTransport) -> Response:
        """Timer A retransmissions on UDP, Timer B, ring timeout (then CANCEL); non-2xx finals are ACKed."""
        ua = self.server.ua
        queue: asyncio.Queue[Response] = asyncio.Queue()
        ua.transactions.watch(branch, "INVITE", queue.put_nowait)
        data = req.to_bytes()
        loop = asyncio.get_running_loop()
        provisional = False
        interval = ua.transactions.t1
        deadline = loop.time() + 64 * ua.transactions.t1
        try:
            await transport.send(data, addr)
            while True:
                wait = max(0.0, deadline - loop.time())
                if not provisional and not transport.reliable:
                    wait = min(wait, interval)
                try:
                    async with asyncio.timeout(wait):
                        resp = await queue.get()
                except TimeoutError:
                    if loop.time() >= deadline:
                        if provisional:
                            await self._cancel(req, addr, transport)
                            raise _Failed("no answer") from None
                        raise _Failed("no response") from None
                    await transport.send(data, addr)
                    interval = min(2 * interval, ua.transactions.t2)
                    continue
                if resp.status < 200:
                    if not provisional:
                        provisional = True
                        deadline = loop.time() + RING_SECONDS
                    continue
                if resp.status >= 300:
                    await self._ack_failure(req, resp, addr, transport)
                else:
                    ua.transactions.unwatch(branch, "INVITE")
                return resp
        except asyncio.CancelledError:
            if provisional:  # bounded: a shutdown must not wait Timer F for a peer that never answers
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self._cancel(req, addr, transport)
                        while (final := await queue.get()).status < 200:
                            continue
                        if final.status >= 300:  # the 487: ACK it (a 2xx that crossed our CANCEL stays unACKed)
                            await self._ack_failure(req, final, addr, transport)
            raise
        except OSError as exc:
            raise _Failed(f"unreachable: {exc.strerror or exc}"[:32]) from None
        finally:
            ua.transactions.unwatch(branch, "INVITE")

    async def _ack_failure(self, req: Request, resp: Response, addr: Addr, transport: SipTransport) -> None:
        ack = Request(headers=Headers(), body=b"", method="ACK", uri=req.uri)
        for name in ("Via", "Route", "From"):
            for value in req.headers.get_all(name):
                ack.headers.add(name, value)
        ack.headers.add("To", resp.headers.get("To") or "")
        ack.headers.add("Call-ID", req.call_id or "")
        ack.headers.add("CSeq", f"{req.cseq[0] if req.cseq else 1} ACK")
        ack.headers.add("Max-Forwards", "70")
        with contextlib.suppress(OSError):
            await transport.send(ack.to_bytes(), addr)

    async def _cancel(self, req: Request, addr: Addr, transport: SipTransport) -> None:
        cancel = Request(headers=Headers(), body=b"", method="CANCEL", uri=req.uri)
        for name in ("Via", "Route", "From", "To", "Call-ID"):
            for value in req.headers.get_all(name):
                cancel.headers.add(name, value)
        cancel.headers.add("CSeq", f"{req.cseq[0] if req.cseq else 1} CANCEL")
        cancel.headers.add("Max-Forwards", "70")
        with contextlib.suppress(Exception):
            await self.server.ua.transactions.send(cancel, addr, transport)

    async def _established(
        self,
        out: DialOut,
        req: Request,
        resp: Response,
        branch: str,
        addr: Addr,
        transport: SipTransport,
        leg: object,
        session_id: int,
        body: bytes,
    ) -> None:
        server = self.server
        to = resp.headers.get("To") or ""
        frm = req.headers.get("From") or ""
        contact = resp.headers.get("Contact")
        routes: list[str] = []
        for row in resp.headers.get_all("Record-Route"):
            routes.extend(split_comma_list(row))
        routes.reverse()  # the UAC's route set is the Record-Route in reverse (RFC 3261 §12.1.2)
        proxy = self.settings.outbound_proxy_uri
        if not routes and proxy is not None:
            routes = [f"<{proxy}{'' if 'lr' in proxy.params else ';lr'}>"]
        call = Call(
            call_id=req.call_id or "",
            local_tag=_tag(frm),
            remote_tag=_tag(to),
            remote_from=to,
            local_to=frm,
            remote_target=name_addr_uri(split_comma_list(contact)[0]) if contact else req.uri,
            route_set=routes,
            transport=transport,
            addr=addr,
            participant_id=out.participant_id,
            conference_id=out.conference_id,
            conference_name=out.conference_name,
            display=out.display,
            invite=ServerTransaction(req, addr, transport, last=resp),
            remote_cseq=0,
            leg=leg,  # type: ignore[arg-type]  # the engine's own leg, as joined
            session_id=session_id,
            local_sdp=body,
            confirmed=True,
            outgoing=True,
        )
        call.local_cseq = req.cseq[0] if req.cseq else 1
        ack = Request(headers=Headers(), body=b"", method="ACK", uri=call.remote_target)
        host, port = server.ua.local_addr
        sent_by = (f"[{host}]" if ":" in host else host) + f":{port}"
        ack.headers.add("Via", f"SIP/2.0/{transport.name} {sent_by};rport;branch={new_branch()}")
        ack.headers.add("Max-Forwards", "70")
        for name, value in (("From", frm), ("To", to), ("Call-ID", call.call_id)):
            ack.headers.add(name, value)
        ack.headers.add("CSeq", f"{call.local_cseq} ACK")
        for route in routes:
            ack.headers.add("Route", route)
        ack_data = ack.to_bytes()
        ack_addr = addr
        if not transport.reliable and not self.settings.outbound_proxy_uri:
            target = name_addr_uri(routes[0]) if routes else call.remote_target
            with contextlib.suppress(OSError, SipUriError):
                ack_addr = await server.ua.resolve(parse_uri(target))

        def re_ack(_retransmitted: Response) -> None:
            asyncio.ensure_future(transport.send(ack_data, ack_addr))

        server.ua.transactions.watch(branch, "INVITE", re_ack)  # a 2xx retransmitted: ACK it again
        call.watched_branch = branch
        await transport.send(ack_data, ack_addr)
        server.calls[call.key] = call
        try:
            choice = negotiate(parse_sdp(resp.body), prefer="pcmu")
            if choice.codec != "pcmu":
                raise SdpError(488, "answer changed the codec")
        except SdpError:
            await server.hang_up(call, "bad SDP answer")
            await server.participants.dial_ended(out.participant_id, "no common codec")
            return
        call.choice = choice
        moved = False
        if call.leg is not None and not choice.on_hold:
            port = call.leg.local_port
            call.leg = await server.media.update_remote(call.leg, choice.remote_ip, choice.remote_port)
            moved = call.leg.local_port != port
        call.ack_done.set()
        await server.participants.connected(out.participant_id)
        if moved:  # the engine re-pointed the leg on a new port: tell the callee
            await server.reoffer(call)
        log.info("dial-out connected", extra={"participant": out.participant_id, "conference": out.conference_name})


def _tag(value: str) -> str:
    return header_param(value, "tag") or ""
