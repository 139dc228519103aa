"""asyncio SIP transports: UDP (bound socket) and TCP (client connections, responses on the same connection).

Every received byte string goes through :func:`app.sip.message.parse_message`; malformed input is logged at
debug level and dropped, and exceptions raised by the message handler are logged, never propagated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from app.sip.message import Request, Response, SipParseError, StreamFramer, parse_message

__all__ = ["Addr", "MessageHandler", "SipTransport", "TcpTransport", "UdpTransport"]

log = logging.getLogger(__name__)

Addr = tuple[str, int]
MessageHandler = Callable[["Request | Response", Addr, "SipTransport"], None]


class SipTransport(Protocol):
    name: str  # "UDP" / "TCP" as written in Via
    reliable: bool

    @property
    def local_addr(self) -> Addr: ...

    async def send(self, data: bytes, addr: Addr) -> None: ...

    async def close(self) -> None: ...


def _dispatch(handler: MessageHandler, data: bytes, addr: Addr, transport: SipTransport, *, stream: bool) -> None:
    try:
        msg = parse_message(data, stream=stream)
    except SipParseError as exc:
        log.debug("dropping malformed SIP message from %s:%s: %s", addr[0], addr[1], exc)
        return
    try:
        handler(msg, addr, transport)
    except Exception:
        log.exception("SIP message handler failed for a message from %s:%s", addr[0], addr[1])


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive
        host = str(addr[0])
        port = addr[1] if isinstance(addr[1], int) else 0
        _dispatch(self.owner.handler, data, (host, port), self.owner, stream=False)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class UdpTransport:
    name = "UDP"
    reliable = False

    def __init__(self, handler: MessageHandler) -> None:
        self.handler = handler
        self._transport: asyncio.DatagramTransport | None = None
        self._local: Addr = ("", 0)

    @property
    def local_addr(self) -> Addr:
        return self._local

    async def bind(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
        self._transport = transport
        sock = transport.get_extra_info("sockname")
        self._local = (str(sock[0]), int(sock[1]))

    async def send(self, data: bytes, addr: Addr) -> None:
        if self._transport is None:
            raise RuntimeError("UDP transport not bound")
        self._transport.sendto(data, addr)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class _TcpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.task: asyncio.Task[None] | None = None


class TcpTransport:
    """Client-side TCP: one connection per remote address, opened on first send, read until closed."""

    name = "TCP"
    reliable = True

    def __init__(self, handler: MessageHandler, local_host: str, local_port: int, connect_timeout: float = 5.0) -> None:
        self.handler = handler
        self._local: Addr = (local_host, local_port)
        self._conns: dict[Addr, _TcpConnection] = {}
        self._lock = asyncio.Lock()
        self.connect_timeout = connect_timeout
        self._server: asyncio.Server | None = None

    async def listen(self, host: str, port: int) -> None:
        """Also accept connections on ``host:port`` (calls arrive there); responses go back on them."""

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            addr: Addr = (str(peer[0]), int(peer[1]))
            conn = _TcpConnection(reader, writer)
            self._conns[addr] = conn
            conn.task = asyncio.current_task()
            await self._read_loop(addr, conn)

        self._server = await asyncio.start_server(accepted, host, port)

    @property
    def local_addr(self) -> Addr:
        return self._local

    async def _connection(self, addr: Addr) -> _TcpConnection:
        async with self._lock:
            conn = self._conns.get(addr)
            if conn is not None and not conn.writer.is_closing():
                return conn
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr[0], addr[1]), self.connect_timeout)
            conn = _TcpConnection(reader, writer)
            conn.task = asyncio.create_task(self._read_loop(addr, conn), name=f"sip-tcp-{addr[0]}:{addr[1]}")
            self._conns[addr] = conn
            return conn

    async def _read_loop(self, addr: Addr, conn: _TcpConnection) -> None:
        framer = StreamFramer()
        try:
            while True:
                data = await conn.reader.read(65536)
                if not data:
                    break
                try:
                    messages = list(framer.feed(data))
                except SipParseError as exc:
                    log.debug("closing TCP connection to %s:%s after unframeable input: %s", addr[0], addr[1], exc)
                    break
                for raw in messages:
                    _dispatch(self.handler, raw, addr, self, stream=True)
        except (ConnectionError, OSError) as exc:
            log.debug("TCP connection to %s:%s failed: %s", addr[0], addr[1], exc)
        finally:
            if self._conns.get(addr) is conn:
                del self._conns[addr]
            conn.writer.close()

    async def send(self, data: bytes, addr: Addr) -> None:
        conn = await self._connection(addr)
        conn.writer.write(data)
        await conn.writer.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        conns = list(self._conns.values())
        self._conns.clear()
        for conn in conns:
            conn.writer.close()
            if conn.task is not None:
                conn.task.cancel()
        for conn in conns:
            if conn.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await conn.task
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()
