"""What an XML-RPC handler gets besides its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.state import AppServices


@dataclass(frozen=True, slots=True)
class CallContext:
    services: AppServices
    peer: str
    user: str
