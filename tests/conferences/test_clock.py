"""The service clock: naive UTC, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.conferences.clock import utc_clock


def test_utc_clock_is_naive_utc_now() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    now = utc_clock()
    after = datetime.now(UTC).replace(tzinfo=None)
    assert now.tzinfo is None
    # time.time_ns and datetime.now read the same clock; a microsecond of rounding either way
    assert before - timedelta(microseconds=1) <= now <= after + timedelta(microseconds=1)


def test_utc_clock_keeps_microseconds() -> None:
    assert len({utc_clock().microsecond for _ in range(50)}) > 1
