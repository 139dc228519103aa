"""asyncio SIP user agent (client side): builds requests, runs transactions, answers digest challenges."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.sip.digest import (
    AnsweredChallenge,
    CredentialLookup,
    DigestError,
    DigestSession,
)
from app.sip.message import Headers, Request, Response
from app.sip.settings import SipSettings
from app.sip.transaction import T1, T2, TransactionLayer, TransactionTimeoutError, new_branch
from app.sip.transport import Addr, SipTransport, TcpTransport, UdpTransport
from app.sip.uri import SipUri, parse_uri

__all__ = ["USER_AGENT", "RequestHandler", "RequestResult", "SipUserAgent", "new_tag"]

log = logging.getLogger(__name__)

USER_AGENT = "adhoc-bridge"
_AUTH_ROWS = ("Authorization", "Proxy-Authorization")
RequestHandler = Callable[[Request, Addr, SipTransport], None]


def new_tag() -> str:
    return secrets.token_hex(6)


@dataclass
class RequestResult:
    """Outcome of :meth:`SipUserAgent.request`.

    ``response`` is the final response (None on timeout/transport error); ``error`` explains why the request
    ended without a non-challenge final response (digest give-up, timeout), else None.
    """

    response: Response | None
    error: str | None = None
    used: list[AnsweredChallenge] = field(default_factory=list)
    cseq: int = 0
    attempts: int = 0

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None

    @property
    def status_line(self) -> str | None:
        return self.response.status_line if self.response is not None else None

    @property
    def ok(self) -> bool:
        return self.response is not None and 200 <= self.response.status < 300

    @property
    def realm(self) -> str | None:
        """Realm of the last credential sent (the registrar's when a proxy and a registrar both challenged)."""
        return self.used[-1].realm if self.used else None

    @property
    def algorithm(self) -> str | None:
        return self.used[-1].algorithm if self.used else None


class SipUserAgent:
    """A SIP UAC bound to ``settings.local_host:local_port`` (UDP) or using client TCP connections."""

    def __init__(
        self,
        settings: SipSettings,
        lookup: CredentialLookup,
        *,
        t1: float = T1,
        t2: float = T2,
        timer_f: float | None = None,
    ) -> None:
        self.settings = settings
        self.lookup = lookup
        self.transactions = TransactionLayer(t1=t1, t2=t2, timer_f=timer_f)
        self._transports: dict[str, SipTransport] = {}
        self._started = False
        self.request_handler: RequestHandler | None = None
        """Set by the call server (the owner process): receives every request but stray ACKs."""
        self.listen_tcp = False
        """Accept TCP connections on the bound port too (calls over TCP)."""

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        udp = UdpTransport(self._on_message)
        await udp.bind(self.settings.local_host, self.settings.local_port)
        tcp = TcpTransport(self._on_message, self.settings.local_host, udp.local_addr[1])
        self._transports["udp"] = udp
        self._transports["tcp"] = tcp
        if self.listen_tcp:
            try:
                await tcp.listen(self.settings.local_host, udp.local_addr[1])
            except OSError:
                await udp.close()
                raise
        self._started = True

    async def stop(self) -> None:
        for t in self._transports.values():
            await t.close()
        self._transports.clear()
        self._started = False

    async def __aenter__(self) -> SipUserAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def local_addr(self) -> Addr:
        return self._transports["udp"].local_addr

    def transport(self, name: str) -> SipTransport:
        """The ``udp`` or ``tcp`` transport (started)."""
        return self._transports[name]

    async def resolve(self, target: SipUri) -> Addr:
        return await self._resolve(target)

    # -- incoming ----------------------------------------------------------------------------------

    def _on_message(self, msg: Request | Response, addr: Addr, transport: SipTransport) -> None:
        if isinstance(msg, Response):
            if not self.transactions.on_response(msg):
                log.debug("dropping stray response %s from %s:%s", msg.status, addr[0], addr[1])
            return
        if self.request_handler is not None:
            self.request_handler(msg, addr, transport)
            return
        if msg.method == "ACK":
            return
        # Not the call owner; answer incoming requests statelessly so peers are not left retransmitting.
        status, reason = (200, "OK") if msg.method == "OPTIONS" else (501, "Not Implemented")
        resp = Response(headers=Headers(), body=b"", status=status, reason=reason)
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for v in msg.headers.get_all(name):
                if name == "To" and ";tag=" not in v:
                    v = f"{v};tag={new_tag()}"
                resp.headers.add(name, v)
        if resp.headers.get("Via") is None or resp.headers.get("CSeq") is None:
            return
        resp.headers.add("Server", USER_AGENT)
        task = asyncio.ensure_future(transport.send(resp.to_bytes(), addr))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # -- outgoing ----------------------------------------------------------------------------------

    def contact_uri(self, user: str | None = None) -> str:
        """Our Contact: the bound UDP socket (TCP is client-only, so the Contact never says transport=tcp)."""
        host, port = self.local_addr
        h = f"[{host}]" if ":" in host else host
        u = f"{user}@" if user else ""
        return f"sip:{u}{h}:{port}"

    async def _resolve(self, target: SipUri) -> Addr:
        port = target.port or target.default_port()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(target.host, port, type=0, proto=0)
        if not infos:
            raise OSError(f"cannot resolve {target.host}")
        # prefer the address family of the bound socket
        want_v6 = ":" in self.local_addr[0]
        for _fam, _, _, _, sockaddr in infos:
            if (":" in str(sockaddr[0])) == want_v6:
                return str(sockaddr[0]), int(sockaddr[1])
        sockaddr = infos[0][4]
        return str(sockaddr[0]), int(sockaddr[1])

    async def request(
        self,
        method: str,
        request_uri: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        from_uri: str | None = None,
        to_uri: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        destination: str | None = None,
        digest: DigestSession | None = None,
    ) -> RequestResult:
        """Send a non-INVITE request and follow digest challenges until a final answer.

        ``destination`` (SIP URI) overrides where the request is sent; default is ``settings.outbound_proxy``,
        else the Request-URI. ``digest`` carries nonce state across requests (pre-emptive credentials, nc
        increments); without it a fresh session is used. Never raises for protocol outcomes: digest give-ups,
        timeouts and transport errors are reported in :attr:`RequestResult.error`.
        """
        if not self._started:
            raise RuntimeError("SipUserAgent not started")
        method = method.upper()
        if method in ("INVITE", "ACK", "CANCEL"):
            raise ValueError(f"{method} is not supported by this non-INVITE client")
        ruri = parse_uri(request_uri)
        proxy = self.settings.outbound_proxy_uri
        target = parse_uri(destination) if destination else (proxy or ruri)
        transport_name = self.settings.transport_for(target)
        transport = self._transports[transport_name]
        try:
            addr = await self._resolve(target)
        except OSError as exc:
            return RequestResult(response=None, error=f"cannot resolve {target.host}: {exc}")

        local_host, local_port = self.local_addr
        sent_by = (f"[{local_host}]" if ":" in local_host else local_host) + f":{local_port}"
        from_value = f"<{from_uri or f'sip:{USER_AGENT}@{sent_by}'}>;tag={new_tag()}"
        to_value = f"<{to_uri or request_uri}>"
        call_id = call_id or f"{secrets.token_hex(12)}@{local_host}"
        session = digest or DigestSession(self.lookup, min_algorithm=self.settings.min_digest_algorithm)
        tracker = session.tracker()
        pre_rows, pre_used = session.preemptive(method, request_uri, body) if digest is not None else ([], [])
        tracker.note_preemptive(pre_used, pre_rows)

        result = RequestResult(response=None, used=tracker.used)
        while True:
            req = Request(headers=Headers(), body=body, method=method, uri=request_uri)
            h = req.headers
            h.add("Via", f"SIP/2.0/{transport.name} {sent_by};rport;branch={new_branch()}")
            h.add("Max-Forwards", "70")
            if proxy is not None and destination is None:
                h.add("Route", f"<{proxy}{'' if 'lr' in proxy.params else ';lr'}>")
            h.add("From", from_value)
            h.add("To", to_value)
            h.add("Call-ID", call_id)
            h.add("CSeq", f"{cseq} {method}")
            for name, value in headers:
                if name.lower() not in ("via", "from", "to", "call-id", "cseq", "content-length"):
                    h.add(name, value)
            h.add("User-Agent", USER_AGENT)
            for name, value in tracker.credential_rows():
                h.add(name, value)
            result.cseq = cseq
            result.attempts += 1
            try:
                resp = await self.transactions.send(req, addr, transport)
            except TransactionTimeoutError as exc:
                result.response = None
                result.error = str(exc)
                return result
            result.response = resp
            if resp.status not in (401, 407):
                return result
            try:
                await tracker.answer(resp.headers.rows, method=method, uri=request_uri, body=body)
            except DigestError as exc:
                result.error = str(exc)
                log.info("%s %s: %s", method, request_uri, exc)
                return result
            cseq += 1  # RFC 3261 §22.2: new transaction, CSeq incremented
