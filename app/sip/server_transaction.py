"""RFC 3261 §17.2 server transactions: retransmitted requests get the last response again, non-2xx final
responses to INVITE are retransmitted until the ACK (Timer G, given up at Timer H), and the transaction is
kept for 64*T1 (Timers I/J, RFC 6026 Timer L) to absorb late retransmissions.

2xx responses to INVITE are retransmitted by the dialog layer (RFC 3261 §13.3.1.4), not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.sip.client import USER_AGENT, new_tag
from app.sip.message import Headers, Request, Response
from app.sip.transaction import T1, T2
from app.sip.transport import Addr, SipTransport

__all__ = ["ServerTransaction", "ServerTransactions", "make_response"]

log = logging.getLogger(__name__)


def make_response(
    request: Request, status: int, reason: str, *, to_tag: str | None = None, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A response echoing Via, From, To (tag added unless the request has one), Call-ID and CSeq."""
    resp = Response(headers=Headers(), body=b"", status=status, reason=reason)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.headers.get_all(name):
            if name == "To" and ";tag=" not in value.replace(" ", "") and status > 100:
                value = f"{value};tag={to_tag or new_tag()}"
            resp.headers.add(name, value)
    resp.headers.add("Server", USER_AGENT)
    for name, value in headers:
        resp.headers.add(name, value)
    return resp


@dataclass
class ServerTransaction:
    request: Request
    addr: Addr
    transport: SipTransport
    last: Response | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def final(self) -> bool:
        return self.last is not None and self.last.status >= 200


class ServerTransactions:
    def __init__(self, t1: float = T1, t2: float = T2) -> None:
        self.t1 = t1
        self.t2 = t2
        self._tx: dict[tuple[str, str], ServerTransaction] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _key(request: Request) -> tuple[str, str] | None:
        branch = request.top_via_branch
        if branch is None:
            return None
        method = "INVITE" if request.method == "ACK" else request.method
        return branch, method

    def absorb(self, request: Request) -> bool:
        """True when ``request`` belongs to a known transaction (a retransmission, or the ACK of a non-2xx)."""
        key = self._key(request)
        tx = self._tx.get(key) if key is not None else None
        if tx is None:
            return False
        if request.method == "ACK":
            if tx.last is not None and tx.last.status >= 300:
                tx.acked.set()
                return True
            return False  # the ACK of a 2xx is the dialog's (it has its own branch anyway)
        if tx.last is not None:
            self._spawn(tx.transport.send(tx.last.to_bytes(), tx.addr))
        return True

    def find_invite(self, branch: str | None) -> ServerTransaction | None:
        """The INVITE transaction a CANCEL with this branch cancels."""
        return self._tx.get((branch, "INVITE")) if branch is not None else None

    def create(self, request: Request, addr: Addr, transport: SipTransport) -> ServerTransaction:
        tx = ServerTransaction(request, addr, transport)
        key = self._key(request)
        if key is not None:
            self._tx[key] = tx
        return tx

    async def respond(self, tx: ServerTransaction, response: Response) -> None:
        if tx.final:
            return
        tx.last = response
        try:
            await tx.transport.send(response.to_bytes(), tx.addr)
        except OSError as exc:
            log.debug("cannot send %s to %s:%s: %s", response.status, tx.addr[0], tx.addr[1], exc)
        if response.status < 200:
            return
        if tx.request.method == "INVITE" and response.status >= 300 and not tx.transport.reliable:
            tx.task = self._spawn(self._retransmit_until_ack(tx))
        else:
            self._spawn(self._expire(tx, 64 * self.t1))

    async def _retransmit_until_ack(self, tx: ServerTransaction) -> None:
        assert tx.last is not None
        data = tx.last.to_bytes()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 64 * self.t1  # Timer H
        interval = self.t1  # Timer G
        while loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(interval, max(0.0, deadline - loop.time()))):
                    await tx.acked.wait()
            if tx.acked.is_set():
                break
            with contextlib.suppress(OSError):
                await tx.transport.send(data, tx.addr)
            interval = min(2 * interval, self.t2)
        await self._expire(tx, 0 if not tx.acked.is_set() else 4.0 if not tx.transport.reliable else 0)  # Timer I

    async def _expire(self, tx: ServerTransaction, after: float) -> None:
        if after > 0:
            await asyncio.sleep(after)
        key = self._key(tx.request)
        if key is not None and self._tx.get(key) is tx:
            del self._tx[key]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tx.clear()
