"""Process-wide logging: one ``console`` or ``json`` line per event on stderr."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from app.core.config import LogSettings

# Attributes every LogRecord has; anything else passed through ``extra=`` is a structured field.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS}


class _UtcSeconds:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, formatted once per second (a log line per request must stay cheap)."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, created: float) -> tuple[str, int]:
        second = int(created)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return self._text, min(999, int((created - second) * 1000))


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._seconds = _UtcSeconds()

    def format(self, record: logging.LogRecord) -> str:
        seconds, millis = self._seconds(record.created)
        stamp = f"{seconds}.{millis:03d}"
        extras = " ".join(f"{key}={_render(value)}" for key, value in _fields(record).items())
        line = f"{stamp}Z {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._seconds = _UtcSeconds()

    def format(self, record: logging.LogRecord) -> str:
        seconds, millis = self._seconds(record.created)
        payload: dict[str, Any] = {
            "ts": f"{seconds}.{millis:03d}+00:00",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, separators=(",", ":"))


def _render(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return json.dumps(text) if (not text or " " in text or '"' in text or "=" in text) else text


def configure_logging(settings: LogSettings) -> None:
    # No format of ours shows thread or process names: skip collecting them for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Alembic announces each of its plugins at INFO on every start: noise for an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Our own request log replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True
