"""One write per reply: the head leaves with the first body chunk, in a single ``transport.write``.

uvicorn's ``RequestResponseCycle.send`` writes the status line and headers as soon as the application
sends ``http.response.start`` and the body when ``http.response.body`` follows: two writes per reply,
so over TLS two records (two encryptions, two ``write`` system calls, two TCP segments) for what is,
on every route of ours, one small head and one body sent back to back. ``OneWriteCycle`` holds the head
until the first body message and writes both at once. The bytes the client receives are exactly the
ones uvicorn writes, in the same order; only the number of writes changes:

- a reply whose body message writes nothing (``HEAD``) has its head written when that message is done;
- a streamed reply has its head written with its first chunk, the rest as uvicorn writes it;
- if the transport is closed while a head is held (``connection: close``, or the application failing
  after its ``http.response.start``), the head is written first, as uvicorn would have.

``adopt`` turns the cycle uvicorn's httptools protocol has just made into one of these (see
``app.transport.guard``): uvicorn builds its cycle inside ``on_headers_complete`` and has no hook to
choose the class, and the subclass adds no state of its own, only this ``send``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class _HeldHead:
    """Stands in for the transport while uvicorn's ``send`` runs: holds the head, prepends it once."""

    __slots__ = ("transport", "head")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            data = head + data
        self.transport.write(data)

    def flush(self) -> None:
        head = self.head
        if head is not None:
            self.head = None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class _HeadCatcher(_HeldHead):
    __slots__ = ()

    def write(self, data: bytes) -> None:
        self.head = data if self.head is None else self.head + data


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, writing each reply's head together with its body."""

    async def send(self, message: Any) -> None:
        if self.response_started:
            transport = self.transport
            try:
                await super().send(message)
            finally:
                if isinstance(transport, _HeldHead) and (self.response_complete or self.disconnected):
                    # The reply is over: a head nothing was written after (HEAD) goes now, unless nobody is left.
                    self.transport = transport.transport
                    if not self.disconnected:
                        transport.flush()
            return
        real = self.transport
        catcher = _HeadCatcher(real)
        self.transport = catcher  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            held = _HeldHead(real)
            held.head = catcher.head
            self.transport = held  # type: ignore[assignment]


def adopt(cycle: RequestResponseCycle | None) -> None:
    """Make uvicorn's new ``cycle`` a ``OneWriteCycle`` (only an unstarted one of uvicorn's own class)."""
    if type(cycle) is RequestResponseCycle and not cycle.response_started:
        cycle.__class__ = OneWriteCycle
