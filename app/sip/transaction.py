"""RFC 3261 §17.1.2 non-INVITE client transactions (Timer E/F on UDP, Timer F only on TCP)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from app.sip.message import Request, Response
from app.sip.transport import Addr, SipTransport

__all__ = ["T1", "T2", "ClientTransaction", "TransactionLayer", "TransactionTimeoutError", "new_branch"]

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(10)


class TransactionTimeoutError(Exception):
    """Timer F fired (or the transport failed): no final response."""


@dataclass
class ClientTransaction:
    branch: str
    method: str
    request: Request
    addr: Addr
    transport: SipTransport
    future: asyncio.Future[Response]
    provisional: bool = False


class TransactionLayer:
    """Matches responses to client transactions by (Via branch, CSeq method) (RFC 3261 §17.1.3)."""

    def __init__(self, t1: float = T1, t2: float = T2, timer_f: float | None = None) -> None:
        self.t1 = t1
        self.t2 = t2
        self.timer_f = timer_f if timer_f is not None else 64 * t1
        self._pending: dict[tuple[str, str], ClientTransaction] = {}
        self._watchers: dict[tuple[str, str], Callable[[Response], None]] = {}

    def watch(self, branch: str, method: str, callback: Callable[[Response], None]) -> None:
        """Hand every response of (branch, method) to ``callback`` (INVITE client transactions, 2xx re-ACKs)."""
        self._watchers[(branch, method)] = callback

    def unwatch(self, branch: str, method: str) -> None:
        self._watchers.pop((branch, method), None)

    def on_response(self, resp: Response) -> bool:
        """Feed a received response; returns False when it matches no transaction (stray)."""
        branch = resp.top_via_branch
        cseq = resp.cseq
        if branch is None or cseq is None:
            return False
        watcher = self._watchers.get((branch, cseq[1]))
        if watcher is not None:
            watcher(resp)
            return True
        tx = self._pending.get((branch, cseq[1]))
        if tx is None:
            return False
        if resp.status < 200:
            tx.provisional = True
            return True
        if not tx.future.done():
            tx.future.set_result(resp)
        return True

    async def send(self, request: Request, addr: Addr, transport: SipTransport) -> Response:
        """Send ``request`` (its top Via must carry the branch) and wait for the final response."""
        branch = request.top_via_branch
        if branch is None:
            raise ValueError("request has no Via branch")
        key = (branch, request.method)
        loop = asyncio.get_running_loop()
        tx = ClientTransaction(branch, request.method, request, addr, transport, loop.create_future())
        self._pending[key] = tx
        data = request.to_bytes()
        try:
            try:
                await transport.send(data, addr)
            except (TimeoutError, OSError) as exc:
                raise TransactionTimeoutError(f"transport error sending to {addr[0]}:{addr[1]}: {exc}") from exc
            deadline = loop.time() + self.timer_f
            interval = self.t1
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TransactionTimeoutError(f"no final response from {addr[0]}:{addr[1]} (Timer F)")
                wait = remaining if transport.reliable else min(interval, remaining)
                done, _ = await asyncio.wait({tx.future}, timeout=wait)
                if done:
                    return tx.future.result()
                if transport.reliable:
                    continue
                # Timer E: retransmit; after a provisional response the interval is T2.
                interval = self.t2 if tx.provisional else min(2 * interval, self.t2)
                try:
                    await transport.send(data, addr)
                except OSError as exc:
                    log.debug("retransmission to %s:%s failed: %s", addr[0], addr[1], exc)
        finally:
            self._pending.pop(key, None)
            if not tx.future.done():
                tx.future.cancel()
