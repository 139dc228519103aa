"""The per-request log line: ``info_line`` writes what ``logger.info(..., extra=...)`` writes, in both formats."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.core.config import LogSettings
from app.core.logging import configure_logging, info_line

FIELDS = {"http_method": "POST", "path": "/RPC2", "status": 200, "latency_ms": 0.42, "peer": "127.0.0.1", "user": "a b"}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, srcfile = root.handlers[:], root.level, logging._srcfile
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging._srcfile = srcfile


def _without_timestamp(line: str, log_format: str) -> object:
    if log_format == "json":
        record = json.loads(line)
        record.pop("ts")
        return record
    return line.split(" ", 1)[1]


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_the_direct_line_is_the_line_logger_info_writes(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(format=log_format, level="info"))
    logger = logging.getLogger("adhoc.access")
    logger.info("request", extra=FIELDS)
    info_line(logger, "request", dict(FIELDS))
    standard, direct = capsys.readouterr().err.splitlines()
    assert _without_timestamp(direct, log_format) == _without_timestamp(standard, log_format)
    if log_format == "console":
        assert direct.split(" ", 1)[1] == (
            "INFO    adhoc.access: request "
            'http_method=POST path=/RPC2 status=200 latency_ms=0.42 peer=127.0.0.1 user="a b"'
        )


def test_a_handler_added_anywhere_still_gets_the_record(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(format="console", level="info"))
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger = logging.getLogger("adhoc.access")
    for owner in (logger, logging.getLogger()):
        keep = Keep()
        owner.addHandler(keep)
        try:
            info_line(logger, "request", dict(FIELDS))
        finally:
            owner.removeHandler(keep)
    assert [(record.getMessage(), record.status) for record in seen] == [("request", 200), ("request", 200)]  # type: ignore[attr-defined]
    assert len(capsys.readouterr().err.splitlines()) == 2  # and stderr still got both lines


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _installed_stream() -> _CountingStream:
    configure_logging(LogSettings(format="console", level="info"))
    stream = _CountingStream()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


async def test_lines_of_one_loop_iteration_are_written_together_at_its_end_in_order() -> None:
    stream = _installed_stream()
    logger = logging.getLogger("adhoc.access")
    for number in range(3):
        info_line(logger, "request", {"n": number})
    assert stream.getvalue() == ""  # queued until the iteration ends
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["n=0", "n=1", "n=2"]
    assert stream.writes == 1


async def test_any_other_record_writes_the_queued_lines_first() -> None:
    stream = _installed_stream()
    access = logging.getLogger("adhoc.access")
    info_line(access, "request", {"n": 1})
    logging.getLogger("adhoc.other").warning("something else")
    info_line(access, "request", {"n": 2})
    logging.getLogger().handlers[0].flush()  # what logging.shutdown does at exit
    messages = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert messages == ["request n=1", "something else", "request n=2"]


def test_without_a_running_loop_a_line_is_written_at_once() -> None:
    stream = _installed_stream()
    info_line(logging.getLogger("adhoc.access"), "request", {"n": 1})
    assert stream.getvalue().endswith("request n=1\n")
