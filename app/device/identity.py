"""Facts about this bridge that device.query, device.health.query and /system.xml report."""

from __future__ import annotations

import hashlib
import socket
from datetime import UTC, datetime
from functools import cache

from app.core.state import AppServices

# Control plane only: these are the ports we advertise to a manager; media is out of scope.
MANUFACTURER = "adhoc-bridge project"
TOTAL_VIDEO_PORTS = 1000
TOTAL_AUDIO_ONLY_PORTS = 1000
TOTAL_STREAMING_AND_CONTENT_PORTS = 0


@cache
def serial_number() -> str:
    """Stable per host, so a manager sees the same device across restarts."""
    digest = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8].upper()
    return f"AB{digest}"


def uptime_seconds(services: AppServices) -> int:
    return max(0, int((datetime.now(UTC) - services.started_at).total_seconds()))
