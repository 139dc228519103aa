"""The gauges other packages set (calls, media engine), summed over worker processes as ``/metrics`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.metrics.multiproc import MULTIPROC_ENV, mark_worker_dead
from tests.metrics.test_metrics import samples, value
from tests.support.bridge import REPO_ROOT

WORKER = """
import os, sys
from app.metrics.instruments import call_ended, call_started, set_media_engine_up
for _ in range(int(sys.argv[1])):
    call_started()
call_ended()
set_media_engine_up(sys.argv[2] == "up")
print(os.getpid())
"""


def _worker(directory: Path, calls: int, media: str) -> int:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(calls), media],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def _gauges(directory: Path) -> tuple[float, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    found = samples(generate_latest(registry).decode())
    return value(found, "adhoc_calls_live"), value(found, "adhoc_media_engine_up")


def test_live_gauges_add_up_over_workers_until_a_worker_is_marked_dead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _worker(tmp_path, 3, "up")  # 3 started, 1 ended: 2 live; media engine up
    second = _worker(tmp_path, 2, "down")  # 1 live; media engine down
    assert _gauges(tmp_path) == (3.0, 1.0)
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    mark_worker_dead(first)
    assert _gauges(tmp_path) == (1.0, 0.0)
    mark_worker_dead(second)
    assert _gauges(tmp_path) == (0.0, 0.0)
