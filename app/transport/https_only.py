"""The management API (``/api/admin/...``, its docs included) is never served over plain HTTP."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.transport.listener import transport_of
from app.transport.reply import json_reply

ADMIN_PREFIX = "/api/admin"
CONSOLE_PREFIX = "/admin"  # the operators' web console (app/console/)
_PREFIXES = (ADMIN_PREFIX, CONSOLE_PREFIX)
_REFUSAL = json_reply(403, {"error": "the management API is served over HTTPS only"})


class AdminHttpsOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and any(scope["path"] == prefix or scope["path"].startswith(prefix + "/") for prefix in _PREFIXES)
            and not transport_of(scope).secure
        ):
            await _REFUSAL.send(send)
            return
        await self.app(scope, receive, send)
