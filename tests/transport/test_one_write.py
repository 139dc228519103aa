"""``app.transport.one_write``: each reply leaves in one write, byte for byte what stock uvicorn sends.

A real uvicorn httptools protocol on a real loopback socket, once as the service builds it (the guarded
protocol) and once stock; a spy on the real transport records every write the protocol makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.transport.guard import ConnectionGuard

Scope = dict[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


class _Spy:
    """The real transport, with every write also recorded."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def _reply(app: App, request: bytes, protocol_class: type[HttpToolsProtocol]) -> tuple[list[bytes], bytes]:
    """(the protocol's writes, what the client received until the server closed or went quiet)."""
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    config.load()
    writes: list[bytes] = []
    state = ServerState()

    class Spied(protocol_class):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(_Spy(transport, writes))

    def factory() -> asyncio.Protocol:
        return Spied(config=config, server_state=state, app_state={})

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    received = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 0.5)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        pass
    writer.close()
    server.close()
    await server.wait_closed()
    return writes, received


def _guarded() -> type[HttpToolsProtocol]:
    return ConnectionGuard(
        header_timeout=10, body_timeout=30, max_header_bytes=16384, max_connections_per_source=256
    ).protocol()


async def _plain(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else b"hello"})


async def _streamed(_scope: Scope, _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"second"})


async def _fails_after_start(_scope: Scope, _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    raise RuntimeError("the application broke after starting its reply")


GET = b"GET / HTTP/1.1\r\nHost: bridge\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: bridge\r\n\r\n"
CLOSE = b"GET / HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("app", "request_bytes", "ours_expected", "stock_expected"),
    [
        pytest.param(_plain, GET, 1, 2, id="head-and-body-in-one-write"),
        pytest.param(_plain, GET * 3, 3, 6, id="keep-alive-one-write-per-reply"),
        pytest.param(_plain, HEAD, 1, 1, id="head-request-head-alone"),
        pytest.param(_plain, CLOSE, 1, 2, id="connection-close"),
        pytest.param(_streamed, GET, 2, 3, id="streamed-head-with-first-chunk"),
        pytest.param(_fails_after_start, GET, 1, 1, id="app-fails-after-start-head-still-sent"),
    ],
)
async def test_a_reply_is_one_write_and_the_same_bytes_as_stock_uvicorn(
    app: App, request_bytes: bytes, ours_expected: int, stock_expected: int
) -> None:
    ours, ours_received = await _reply(app, request_bytes, _guarded())
    stock, stock_received = await _reply(app, request_bytes, HttpToolsProtocol)
    assert (len(ours), len(stock)) == (ours_expected, stock_expected), (ours, stock)
    assert b"".join(ours) == b"".join(stock)
    assert ours_received == stock_received
    assert ours_received.startswith(b"HTTP/1.1 200 OK\r\n")
