"""The management API (``/api/admin/...``, its docs included) is never served over plain HTTP."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from app.transport.listener import transport_of

ADMIN_PREFIX = "/api/admin"
_BODY = json.dumps({"error": "the management API is served over HTTPS only"}).encode()


class AdminHttpsOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and (scope["path"] == ADMIN_PREFIX or scope["path"].startswith(ADMIN_PREFIX + "/"))
            and not transport_of(scope).secure
        ):
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)
