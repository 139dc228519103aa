"""The shared failure table in process, with an injected clock (two tables on one file stand for two workers)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.security import lockout as lockout_module
from app.security.lockout import Lockout, LockoutPolicy

POLICY = LockoutPolicy(failures=10, period=60, window=60, max_window=900)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _table(tmp_path: Path, clock: Clock) -> Lockout:
    return Lockout(tmp_path / "auth-lockout.bin", POLICY, clock)


def test_ten_failures_lock_the_source_and_not_another(tmp_path: Path, clock: Clock) -> None:
    table = _table(tmp_path, clock)
    for _ in range(9):
        table.failed("192.0.2.1")
    assert table.retry_after("192.0.2.1") is None
    table.failed("192.0.2.1")
    assert table.retry_after("192.0.2.1") == 60
    assert table.retry_after("192.0.2.2") is None
    clock.now += 59
    assert table.retry_after("192.0.2.1") == 1
    clock.now += 1
    assert table.retry_after("192.0.2.1") is None


def test_failures_spread_over_more_than_the_period_do_not_lock(tmp_path: Path, clock: Clock) -> None:
    table = _table(tmp_path, clock)
    for _ in range(30):
        table.failed("2001:db8::1")
        clock.now += 7  # 9 per 63 s
    assert table.retry_after("2001:db8::1") is None


def test_the_window_doubles_up_to_the_maximum_and_one_success_resets(tmp_path: Path, clock: Clock) -> None:
    table = _table(tmp_path, clock)
    windows = []
    for _ in range(6):
        for _ in range(10):
            table.failed("198.51.100.9")
        after = table.retry_after("198.51.100.9")
        assert after is not None
        windows.append(after)
        clock.now += after
    assert windows == [60, 120, 240, 480, 900, 900]
    table.succeeded("198.51.100.9")
    for _ in range(10):
        table.failed("198.51.100.9")
    assert table.retry_after("198.51.100.9") == 60


def test_a_lockout_long_over_starts_again_from_the_base_window(tmp_path: Path, clock: Clock) -> None:
    table = _table(tmp_path, clock)
    for _ in range(10):
        table.failed("198.51.100.9")
    clock.now += 60 + 901
    for _ in range(10):
        table.failed("198.51.100.9")
    assert table.retry_after("198.51.100.9") == 60


def test_two_workers_share_one_table(tmp_path: Path, clock: Clock) -> None:
    first, second = _table(tmp_path, clock), _table(tmp_path, clock)
    for index in range(10):
        (first if index % 2 else second).failed("192.0.2.7")
    assert first.retry_after("192.0.2.7") == second.retry_after("192.0.2.7") == 60
    second.succeeded("192.0.2.7")
    assert first.retry_after("192.0.2.7") is None


def test_start_and_end_are_one_line_each_and_never_more(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = _table(tmp_path, clock), _table(tmp_path, clock)
    with caplog.at_level(logging.WARNING, logger="adhoc.auth"):
        for _ in range(15):
            first.failed("192.0.2.8")
        clock.now += 61
        for table in (first, second, first, second):
            assert table.retry_after("192.0.2.8") is None
    lines = [(record.getMessage(), getattr(record, "peer", None)) for record in caplog.records]
    assert lines == [("authentication lockout started", "192.0.2.8"), ("authentication lockout ended", "192.0.2.8")]


def test_a_full_neighbourhood_reuses_the_oldest_unlocked_slot(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lockout_module, "SLOTS", 8)  # every source lands in the same 8 slots
    monkeypatch.setattr(lockout_module, "_SIZE", lockout_module._HEADER.size + 8 * lockout_module._SLOT.size)
    table = _table(tmp_path, clock)
    for _ in range(10):
        table.failed("10.0.0.1")
    for index in range(2, 40):
        table.failed(f"10.0.0.{index}")
        clock.now += 0.01
    assert table.retry_after("10.0.0.1") is not None  # the locked one was kept
