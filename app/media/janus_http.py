"""The HTTP client of the Janus API: httpx and httpcore (HTTP/1.1, keep-alive pool) over asyncio's own sockets.

httpcore runs its connections on a pluggable network backend; its default goes through anyio, whose stream
layer (cancel scopes, checkpoints, per-call attribute lookups) costs most of the CPU of a request to Janus on
loopback. ``AsyncioBackend`` gives httpcore the event loop's streams directly: the same requests and
responses, the same pool, timeouts and errors, at a fraction of the CPU. Plain ``http://`` only; an
``https://`` Janus (``media.janus_url``) goes through httpx's default transport.
"""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["AsyncioBackend", "janus_client"]

READ_CHUNK = 65536
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Stream(httpcore.AsyncNetworkStream):
    """One connection. httpcore writes a request's head and body separately; they go out together, in one
    send (one segment for Janus to read), when the response is first read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._unsent: list[bytes] = []
        self._write_timeout: float | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._unsent:
            await self._send()
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout("timed out reading from Janus") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._unsent.append(buffer)
            self._write_timeout = timeout

    async def _send(self) -> None:
        data = b"".join(self._unsent)
        self._unsent.clear()
        try:
            self._writer.write(data)
            transport = self._writer.transport
            if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]:
                async with asyncio.timeout(self._write_timeout):
                    await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing to Janus") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._unsent.clear()
        self._writer.close()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("TLS is not supported on this transport")  # https:// is mounted elsewhere

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks before re-using an idle connection: readable there means Janus closed it (or sent
            # something unasked). The socket itself is asked too, as httpcore's own backends do: a close the
            # event loop has not read yet counts as well.
            if self._reader.at_eof() or self._reader.exception() is not None:
                return True
            sock = self._writer.get_extra_info("socket")
            if sock is None or sock.fileno() < 0:
                return True
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
            return bool(readable)
        if info in ("socket", "client_addr", "server_addr"):
            name = {"socket": "socket", "client_addr": "sockname", "server_addr": "peername"}[info]
            return self._writer.get_extra_info(name)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on the running asyncio loop (TCP only)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None, limit=READ_CHUNK
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"cannot connect to {host}:{port} in time") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
        return _Stream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported on this transport")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request/response mapping and error translation) on an ``AsyncioBackend`` pool."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(network_backend=AsyncioBackend(), max_keepalive_connections=8)


def janus_client() -> httpx.AsyncClient:
    """The client of every Janus request: ``http://`` on the asyncio backend, ``https://`` as httpx does it."""
    return httpx.AsyncClient(mounts={"http://": _AsyncioTransport()})
