"""One log line per request: method, path, status, latency, peer, plus what /RPC2 noted about the call."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.transport.listener import transport_of

logger = logging.getLogger("adhoc.access")

RPC_NOTE_KEY = "adhoc.rpc"
RPC_PATH = "/RPC2"
RPC_PATHS = frozenset({RPC_PATH, RPC_PATH + "/"})


def note_rpc(scope: Scope, **fields: Any) -> None:
    """Let the access line carry XML-RPC details (method name, outcome, fault code, user)."""
    scope.setdefault(RPC_NOTE_KEY, {}).update(fields)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if logger.isEnabledFor(logging.INFO):
                transport = transport_of(scope)
                fields: dict[str, Any] = {
                    "http_method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                    "peer": transport.peer,
                    "listener": transport.listener,
                }
                note = scope.get(RPC_NOTE_KEY)
                if note is not None or scope["path"] in RPC_PATHS:
                    # Every /RPC2 line names the call, its outcome and its fault code (0: none), even when
                    # the request was refused before the body was read (413, 403).
                    fields.update(rpc_method="-", outcome="ok" if status < 400 else "refused", fault=0)
                    fields.update(note or {})
                # makeRecord + handle: the same record logger.info() would make, minus its stack walk.
                logger.handle(
                    logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None, extra=fields)
                )
