"""What an XML-RPC handler gets besides its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.state import AppServices


@dataclass(slots=True)  # made on every request: a frozen dataclass costs three times as much to build
class CallContext:
    services: AppServices
    peer: str
    user: str
