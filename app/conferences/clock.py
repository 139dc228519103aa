"""The time the conference service works in: naive UTC, as XML-RPC ``dateTime.iso8601`` carries it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
