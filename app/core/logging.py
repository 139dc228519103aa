"""Process-wide logging: one ``console`` or ``json`` line per event on stderr.

``info_line`` is ``logger.info(message, extra=fields)`` for the per-request lines: when the record would
only reach the one handler ``configure_logging`` installed, it formats the same line from the fields
directly, without building a ``LogRecord`` and walking the handler chain; otherwise it takes the standard
path, so a handler or filter anyone adds (a test's ``caplog``) still sees every record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, cast

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
        self._milli = -1
        self._stamp = ""

    def __call__(self, created: float) -> tuple[str, int]:
        second = int(created)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return self._text, min(999, int((created - second) * 1000))

    def stamp(self, created: float) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmm``, made once per millisecond."""
        milli = int(created * 1000)
        if milli != self._milli:
            seconds, millis = self(created)
            self._stamp = f"{seconds}.{millis:03d}"
            self._milli = milli
        return self._stamp


class LineFormatter(logging.Formatter):
    """A formatter that can also write a line from its parts (``line``), as ``format`` would."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _UtcSeconds()

    def line(self, created: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def format(self, record: logging.LogRecord) -> str:
        line = self.line(record.created, record.levelname, record.name, record.getMessage(), _fields(record))
        if record.exc_info:
            line = self.with_exception(line, self.formatException(record.exc_info))
        return line

    def with_exception(self, line: str, exception: str) -> str:
        return f"{line}\n{exception}"


class ConsoleFormatter(LineFormatter):
    def __init__(self) -> None:
        super().__init__()
        self._heads: dict[tuple[str, str, str], str] = {}

    def line(self, created: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]) -> str:
        key = (levelname, name, message)
        head = self._heads.get(key)
        if head is None:
            head = f"Z {levelname:<7} {name}: {message}"
            if len(self._heads) < _RENDERED_MAX and len(message) <= _RENDERED_LONGEST:
                self._heads[key] = head
        parts = [self._seconds.stamp(created), head]
        rendered = _RENDERED
        for field, value in fields.items():
            kind = type(value)
            if kind is str:
                text = rendered.get(value) or _render(value)
            elif kind is int:
                text = str(value)
            else:
                text = _render(value)
            parts.append(f" {field}={text}")
        return "".join(parts)


class JsonFormatter(LineFormatter):
    def line(self, created: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]) -> str:
        return json.dumps(self._payload(created, levelname, name, message, fields), default=str, separators=(",", ":"))

    def _payload(
        self, created: float, levelname: str, name: str, message: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        seconds, millis = self._seconds(created)
        payload: dict[str, Any] = {
            "ts": f"{seconds}.{millis:03d}+00:00",
            "level": levelname.lower(),
            "logger": name,
            "msg": message,
        }
        payload.update(fields)
        return payload

    def format(self, record: logging.LogRecord) -> str:
        payload = self._payload(record.created, record.levelname, record.name, record.getMessage(), _fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, separators=(",", ":"))


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure_logging`` installs: stderr, one line per record.

    ``write_line`` (the per-request lines) queues its line; what one event-loop iteration queued is written
    at the end of that iteration, in one write: a busy worker answers many requests per iteration, and a
    write system call per line was a tenth of a request's cost. Order is kept: any other record, from
    any thread, writes the queued lines before its own; ``flush`` (``logging.shutdown`` at exit) writes them
    too. With no running loop, a line is written at once. A process killed outright loses at most the
    lines of the iteration it was in.
    """

    formatter: LineFormatter
    MAX_QUEUED = 512  # a long iteration writes what it has queued every this many lines

    def __init__(self, formatter: LineFormatter) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(formatter)
        self._queued: list[str] = []

    def write_line(self, line: str) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            queued = self._queued
            queued.append(line)
            if len(queued) > 1:
                if len(queued) >= self.MAX_QUEUED:
                    self._write_queued()
                return
        try:
            asyncio.get_running_loop().call_soon(self.write_queued)
        except RuntimeError:  # no loop in this thread: now
            self.write_queued()

    def write_queued(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_queued()

    def _write_queued(self) -> None:
        lines, self._queued = self._queued, []
        if not lines:
            return
        terminator = self.terminator
        try:
            self.stream.write(terminator.join(lines) + terminator)
            self.stream.flush()
        except Exception:  # as Handler.emit would: a broken stderr never breaks a request
            self.handleError(logging.makeLogRecord({"msg": lines[-1]}))

    def emit(self, record: logging.LogRecord) -> None:
        if self._queued:
            self.write_queued()
        super().emit(record)

    def flush(self) -> None:
        self.write_queued()
        super().flush()


def _sole_handler(logger: logging.Logger, level: int) -> LineHandler | None:
    """The installed ``LineHandler`` when a record of ``logger`` at ``level`` would reach it and nothing
    else (no other handler, filter or propagation stop on the way), else None."""
    current: logging.Logger | None = logger
    root = logging.root
    while current is not None and current is not root:
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    handlers = root.handlers
    if len(handlers) != 1 or root.filters:
        return None
    handler = handlers[0]
    if type(handler) is not LineHandler or handler.filters or level < handler.level:
        return None
    return handler


def info_line(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """``logger.info(message, extra=fields)``, minus its stack walk, and minus the record when only our
    handler would see it. The caller checks ``logger.isEnabledFor(logging.INFO)`` first."""
    handler = _sole_handler(logger, logging.INFO)
    if handler is None:
        logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, (), None, extra=fields))
        return
    handler.write_line(handler.formatter.line(time.time(), "INFO", logger.name, message, fields))


def log_info(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """``logger.info(message, extra=fields)`` by ``info_line``: for the lines of the hot paths."""
    if logger.isEnabledFor(logging.INFO):
        info_line(logger, message, fields)


_RENDERED: dict[str, str] = {}  # short values seen before (methods, paths, peers, names) and how they print
_RENDERED_MAX = 4096
_RENDERED_LONGEST = 64


def _render(value: object) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        text = cast(str, value)
        known = _RENDERED.get(text)
        if known is not None:
            return known
    else:
        text = str(value)
    rendered = json.dumps(text) if (not text or " " in text or '"' in text or "=" in text) else text
    if kind is str and len(text) <= _RENDERED_LONGEST and len(_RENDERED) < _RENDERED_MAX:
        _RENDERED[text] = rendered
    return rendered


def configure_logging(settings: LogSettings) -> None:
    # No format of ours shows thread or process names: skip collecting them for every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Our formats never show where a record was made: skip the caller look-up (a stack walk) per record.
    logging._srcfile = None
    handler = LineHandler(JsonFormatter() if settings.format == "json" else ConsoleFormatter())
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
