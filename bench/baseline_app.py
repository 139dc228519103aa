"""The yardstick: the least an XML-RPC server can do, under the service's own uvicorn settings.

A bare ASGI app answering every request with one fixed body (a real ``device.query`` reply captured from
the service in the same run), served like ``app.transport.server`` serves a worker: a socket bound
with the same backlog, ``uvicorn.Config`` with the same options (httptools parser, no server header, no
access log, ``app.transport.tls.harden`` over uvicorn's default TLS context, the same certificate), run
by ``uvicorn.Server.serve`` on a uvloop loop in a single process.

``--fastapi`` serves the second yardstick instead: a bare FastAPI application whose one route,
``POST /RPC2``, sits behind a trivial dependency (it reads the body and hands the request on) and answers
the same fixed reply. Ours over that is the framework's cost taken out: what is left is our own work.

Run as ``python -m bench.baseline_app PORT CERTFILE KEYFILE BODYFILE [--fastapi]``; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.transport.tls import harden

LISTEN_BACKLOG = 2048  # as app.transport.server._bind


class FixedReply:
    """Reads the request body, answers 200 text/xml with the same bytes every time."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._headers = [(b"content-type", b"text/xml"), (b"content-length", str(len(body)).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = bool(message.get("more_body", False))
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await send({"type": "http.response.body", "body": self._body})


async def trivial(request: Request) -> Request:
    """The yardstick's dependency: reads the body (as ours does) and hands the request on."""
    await request.body()
    return request


def fastapi_fixed_reply(body: bytes) -> FastAPI:
    """A bare FastAPI route behind a trivial dependency, answering ``body`` as text/xml."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/RPC2", response_class=Response)
    async def rpc2(_request: Annotated[Request, Depends(trivial)]) -> Response:
        return Response(body, media_type="text/xml")

    @app.get("/healthz")
    async def healthz() -> Response:  # what bench.processes waits for
        return Response(b"ok")

    return app


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(LISTEN_BACKLOG)
    return sock


def config(app: ASGIApp, certfile: Path, keyfile: Path) -> uvicorn.Config:
    def context_factory(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return harden(default())

    return uvicorn.Config(
        app,
        lifespan="off",
        proxy_headers=False,
        forwarded_allow_ips=[],
        server_header=False,
        access_log=False,
        log_config=None,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        ssl_context_factory=context_factory,
    )


def main(argv: list[str]) -> int:
    port, certfile, keyfile, body_file = int(argv[1]), Path(argv[2]), Path(argv[3]), Path(argv[4])
    body = body_file.read_bytes()
    app: ASGIApp = fastapi_fixed_reply(body) if "--fastapi" in argv[5:] else FixedReply(body)
    server = uvicorn.Server(config(app, certfile, keyfile))
    sock = bind(port)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
