"""UA/transaction behaviour against a scripted in-process UDP peer: Timer E/F, matching, hostile input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import pytest

from app.sip.client import SipUserAgent
from app.sip.message import Request, parse_message
from app.sip.registration import RegistrationManager, RegistrationState
from app.sip.settings import SipSettings
from tests.sip.conftest import HOST, static_lookup

Reply = Callable[[Request, int], list[bytes]]
PeerFactory = Callable[[Reply], Awaitable["Peer"]]


def response_for(
    req: Request, status: str, extra: str = "", branch: str | None = None, method: str | None = None
) -> bytes:
    via = req.headers.get("Via") or ""
    if branch is not None:
        via = via.split(";branch=")[0] + f";branch={branch}"
    cseq = req.headers.get("CSeq") or ""
    if method is not None:
        cseq = cseq.split()[0] + " " + method
    lines = [
        f"SIP/2.0 {status}",
        f"Via: {via}",
        f"From: {req.headers.get('From')}",
        f"To: {req.headers.get('To')};tag=peer",
        f"Call-ID: {req.headers.get('Call-ID')}",
        f"CSeq: {cseq}",
    ]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


class Peer(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[Request] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = parse_message(data)
        assert isinstance(msg, Request)
        self.requests.append(msg)
        assert self.transport is not None
        for out in self.reply(msg, len(self.requests)):
            self.transport.sendto(out, addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


@pytest.fixture
async def peer_factory() -> AsyncIterator[PeerFactory]:
    peers: list[Peer] = []

    async def make(reply: Reply) -> Peer:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(lambda: Peer(reply), local_addr=(HOST, 0))
        peers.append(proto)
        return proto

    yield make
    for p in peers:
        if p.transport is not None:
            p.transport.close()


@pytest.fixture
async def ua() -> AsyncIterator[SipUserAgent]:
    agent = SipUserAgent(SipSettings(local_host=HOST, local_port=0), static_lookup({}), t1=0.05, timer_f=1.0)
    await agent.start()
    yield agent
    await agent.stop()


async def test_timer_e_retransmits_same_branch_until_answer(ua: SipUserAgent, peer_factory: PeerFactory) -> None:
    peer = await peer_factory(lambda req, n: [] if n < 3 else [response_for(req, "200 OK")])
    result = await ua.request("OPTIONS", f"sip:{HOST}:{peer.port}")
    assert result.status == 200
    assert len(peer.requests) == 3
    assert len({r.top_via_branch for r in peer.requests}) == 1
    branch = peer.requests[0].top_via_branch
    assert branch is not None
    assert branch.startswith("z9hG4bK")
    via = peer.requests[0].top_via or ""
    assert ";rport" in via
    assert peer.requests[0].headers.get("Max-Forwards") == "70"


async def test_timer_f_timeout(ua: SipUserAgent, peer_factory: PeerFactory) -> None:
    peer = await peer_factory(lambda req, n: [])
    result = await ua.request("OPTIONS", f"sip:{HOST}:{peer.port}")
    assert result.response is None
    assert result.error is not None
    assert "Timer F" in result.error
    # 0.05, 0.1, 0.2, 0.4 ... capped by T2: several retransmissions within 1 s
    assert 4 <= len(peer.requests) <= 8


async def test_hostile_peer_cannot_break_matching(ua: SipUserAgent, peer_factory: PeerFactory) -> None:
    def reply(req: Request, n: int) -> list[bytes]:
        if n > 1:
            return []
        return [
            b"\x00\xff garbage",
            b"SIP/2.0 200 OK\r\nContent-Length: 99\r\n\r\n",
            b"SIP/2.0 200 OK\r\n\r\n",  # no Via, no CSeq
            response_for(req, "200 OK", branch="z9hG4bKother"),  # wrong branch
            response_for(req, "200 OK", method="INVITE"),  # right branch, wrong method
            response_for(req, "100 Trying"),
            b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nCSeq: 1 INVITE\r\n\r\n",
            response_for(req, "486 Busy Here"),
            response_for(req, "200 OK"),  # retransmission / late: ignored
        ]

    peer = await peer_factory(reply)
    result = await ua.request("OPTIONS", f"sip:{HOST}:{peer.port}")
    assert result.status == 486


async def test_challenge_retry_increments_cseq_keeps_call_id(peer_factory: PeerFactory) -> None:
    def reply(req: Request, n: int) -> list[bytes]:
        if req.headers.get("Authorization") is None:
            return [response_for(req, "401 Unauthorized", 'WWW-Authenticate: Digest realm="R", nonce="x"')]
        return [response_for(req, "200 OK")]

    peer = await peer_factory(reply)
    async with SipUserAgent(
        SipSettings(local_host=HOST, local_port=0), static_lookup({"R": ("u", "p")}), t1=0.05
    ) as ua:
        result = await ua.request("MESSAGE", f"sip:bob@{HOST}:{peer.port}", body=b"hello", cseq=10)
    assert result.status == 200
    first, second = peer.requests
    assert (first.cseq, second.cseq) == ((10, "MESSAGE"), (11, "MESSAGE"))
    assert first.call_id == second.call_id
    assert first.headers.get("From") == second.headers.get("From")
    assert first.top_via_branch != second.top_via_branch
    assert second.body == b"hello"
    assert f'uri="sip:bob@{HOST}:{peer.port}"' in (second.headers.get("Authorization") or "")


async def test_outbound_proxy_gets_route(peer_factory: PeerFactory) -> None:
    peer = await peer_factory(lambda req, n: [response_for(req, "200 OK")])
    settings = SipSettings(local_host=HOST, local_port=0, outbound_proxy=f"sip:{HOST}:{peer.port}")
    async with SipUserAgent(settings, static_lookup({}), t1=0.05) as ua:
        result = await ua.request("OPTIONS", "sip:bob@example.invalid")
    assert result.status == 200
    assert peer.requests[0].uri == "sip:bob@example.invalid"
    assert peer.requests[0].headers.get("Route") == f"<sip:{HOST}:{peer.port};lr>"


async def test_registration_423_min_expires_and_refresh(peer_factory: PeerFactory) -> None:
    def reply(req: Request, n: int) -> list[bytes]:
        expires = req.headers.get("Expires")
        if expires == "60":
            return [response_for(req, "423 Interval Too Brief", "Min-Expires: 120")]
        contact = req.headers.get("Contact") or ""
        return [response_for(req, "200 OK", f"Contact: {contact.split(';')[0]};expires=2")]

    peer = await peer_factory(reply)
    settings = SipSettings(registrar=f"sip:{HOST}:{peer.port}", local_host=HOST, local_port=0, register_expires=60)
    async with SipUserAgent(settings, static_lookup({}), t1=0.05) as ua:
        mgr = RegistrationManager(settings, static_lookup({}), user_agent=ua)
        await mgr.start()
        mgr.register("42")
        st = await mgr.wait_for("42", RegistrationState.REGISTERED)
        assert st.alias == f"sip:42@{HOST}"
        await asyncio.sleep(1.3)  # granted 2 s -> refresh after 1 s
        regs = [r for r in peer.requests if r.method == "REGISTER"]
        assert [r.headers.get("Expires") for r in regs][:3] == ["60", "120", "120"]
        assert len({r.call_id for r in regs}) == 1
        cseqs = [r.cseq[0] for r in regs if r.cseq]
        assert cseqs == sorted(set(cseqs))
        mgr.unregister("42")
        st = await mgr.wait_for("42", RegistrationState.UNREGISTERED)
        assert peer.requests[-1].headers.get("Expires") == "0"
        await mgr.stop()
