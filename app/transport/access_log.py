"""One log line per request: method, path, status, latency, peer, plus what /RPC2 noted about the call."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logging import info_line
from app.metrics.instruments import observe_rpc
from app.transport.guard import SENT_STATUS_KEY
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
        status: int | None = None

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            # uvicorn answers an application error with a 500 when nothing was sent yet.
            if status is None and not isinstance(scope.get(SENT_STATUS_KEY), int):
                status = 500
            raise
        finally:
            if status is None:
                # The app sent nothing: the status the connection guard sent itself (408), or none at all
                # (the client left): "-", never an invented 500.
                sent = scope.get(SENT_STATUS_KEY)
                status = sent if isinstance(sent, int) else None
            if scope["path"] in RPC_PATHS:
                observe_rpc(scope.get(RPC_NOTE_KEY), status, time.perf_counter() - start)
            if logger.isEnabledFor(logging.INFO):
                transport = transport_of(scope)
                fields: dict[str, Any] = {
                    "http_method": scope["method"],
                    "path": scope["path"],
                    "status": "-" if status is None else status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                    "peer": transport.peer,
                    "listener": transport.listener,
                }
                note = scope.get(RPC_NOTE_KEY)
                if note is not None or scope["path"] in RPC_PATHS:
                    # Every /RPC2 line names the call, its outcome and its fault code (0: none), even when
                    # the request was refused before the body was read (413, 403).
                    answered = status is not None and status < 400
                    fields.update(rpc_method="-", outcome="ok" if answered else "refused", fault=0)
                    fields.update(note or {})
                info_line(logger, "request", fields)
