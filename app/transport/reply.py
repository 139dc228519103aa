"""A complete HTTP reply sent straight to the ASGI ``send`` callable (the hot paths use no Response objects)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Send

JSON_CONTENT_TYPE = b"application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: bytes
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
            *self.extra_headers,
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_reply(status: int, payload: dict[str, Any], *extra_headers: tuple[bytes, bytes]) -> Reply:
    return Reply(status, json.dumps(payload).encode(), JSON_CONTENT_TYPE, extra_headers)


def too_large(limit: int) -> Reply:
    """413 and close: the rest of an oversized body is never read."""
    return json_reply(413, {"error": "request body too large", "limit_bytes": limit}, (b"connection", b"close"))
