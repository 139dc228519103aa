"""The gauges other packages set (calls, media engine), summed over worker processes as ``/metrics`` does."""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

from app.metrics.instruments import LATENCY_BUCKETS
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


TALLY_WORKER = """
import asyncio
from prometheus_client import Histogram
from app.metrics import instruments

async def main():
    latencies = [0.0001, 0.0005, 0.002, 0.003, 0.3, 7.0, 42.0]  # on a bound, between bounds, past the last
    for seconds in latencies[1:]:
        instruments.observe_rpc({"rpc_method": "device.query", "outcome": "ok"}, 200, seconds)
    instruments.observe_rpc({"rpc_method": "device.query", "outcome": "fault"}, 200, latencies[0])
    await asyncio.sleep(instruments.PUBLISH_SECONDS * 4)  # published by the loop, without any scrape
    # What Histogram.observe records for the same latencies, for comparison.
    reference = Histogram("reference", "", buckets=instruments.LATENCY_BUCKETS, registry=None)
    for seconds in latencies:
        reference.observe(seconds)
    print(repr(([value.get() for value in reference._buckets], reference._sum.get())))

asyncio.run(main())
"""


def test_tallied_requests_are_published_as_observe_would_record_them(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", TALLY_WORKER], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    reference_buckets, reference_sum = ast.literal_eval(done.stdout.strip())
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
    found = samples(generate_latest(registry).decode())
    labels = {"dialect": "mcu", "method": "device.query"}
    assert value(found, "adhoc_rpc_requests_total", outcome="ok", **labels) == 6
    assert value(found, "adhoc_rpc_requests_total", outcome="fault", **labels) == 1
    bounds = [floatToGoString(bound) for bound in (*LATENCY_BUCKETS, float("inf"))]  # type: ignore[no-untyped-call]
    published = [
        found[("adhoc_rpc_request_duration_seconds_bucket", frozenset({**labels, "le": bound}.items()))]
        for bound in bounds
    ]
    assert published == list(itertools.accumulate(reference_buckets))  # exposition buckets are cumulative
    assert published[-1] == 7
    assert value(found, "adhoc_rpc_request_duration_seconds_sum", **labels) == pytest.approx(reference_sum)
