"""Stamps each request with the listener that accepted it, the only trusted source of "was this TLS".

``X-Forwarded-Proto`` / ``X-Forwarded-For`` are honoured only when the TCP peer is one of
``server.trusted_proxies``; uvicorn's own proxy-header handling is switched off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

ListenerName = Literal["https", "http"]
SCOPE_KEY = "adhoc.transport"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)  # made on every request: a frozen dataclass costs three times as much to build
class TransportInfo:
    listener: ListenerName
    secure: bool
    peer: str


def transport_of(scope: Scope) -> TransportInfo:
    info = scope.get(SCOPE_KEY)
    if not isinstance(info, TransportInfo):
        # Only reachable when the app is served without a ListenerStamp: treat as insecure.
        return TransportInfo("http", False, "unknown")
    return info


class ListenerStamp:
    def __init__(self, app: ASGIApp, listener: ListenerName, trusted_proxies: Sequence[_Network]) -> None:
        self.app = app
        self.listener: ListenerName = listener
        self.trusted_proxies = tuple(trusted_proxies)

    def _trusted(self, host: str) -> bool:
        if not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = client[0] if client else "unknown"
            secure = self.listener == "https"
            if self._trusted(peer):
                headers = dict(scope["headers"])
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    secure = proto == "https"
                    scope["scheme"] = proto
                forwarded_for = headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")[-1].strip()
                if forwarded_for:
                    peer = forwarded_for
                    scope["client"] = (forwarded_for, 0)
            else:
                scope["scheme"] = "https" if secure else "http"
            scope[SCOPE_KEY] = TransportInfo(self.listener, secure, peer)
        await self.app(scope, receive, send)
