"""With ``server.workers = 2`` the counts of ``GET /metrics`` add up over both workers, dead ones included."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import BridgeFactory
from tests.metrics.test_metrics import rpc_count, samples, scrape, scrape_settled
from tests.support.bridge import Bridge, auth

MAX_REQUESTS = 400


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def _wait_for_workers(bridge: Bridge, count: int, *, gone: int | None = None) -> set[int]:
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while time.monotonic() < deadline:
        workers = _children(bridge.process.pid)
        if len(workers) == count and gone not in workers:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"workers: {workers}")


def _served_by(bridge: Bridge, pid: int) -> float:
    """device.query calls one worker counted, read from that worker's own value file."""
    path = bridge.data_dir / "metrics" / f"counter_{pid}.db"
    if not path.exists():
        return 0.0
    total = 0.0
    for family in MultiProcessCollector.merge([str(path)], accumulate=True):  # type: ignore[no-untyped-call]
        for sample in family.samples:
            if sample.name == "adhoc_rpc_requests_total" and sample.labels.get("method") == "device.query":
                total += sample.value
    return total


def _query_on_a_new_connection(bridge: Bridge) -> None:
    with bridge.rpc() as proxy:  # one ServerProxy, one connection
        proxy.device.query(auth())


def test_counts_add_up_over_workers_and_survive_a_dead_worker(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__WORKERS": "2", "ADHOC_LOG__LEVEL": "info"})
    workers = _wait_for_workers(bridge, 2)
    sent = 0
    # Enough separate connections that the kernel gave some to each worker (checked, not hoped for).
    while sent < 20 or not all(_served_by(bridge, pid) > 0 for pid in workers):
        assert sent < MAX_REQUESTS, {pid: _served_by(bridge, pid) for pid in workers}
        _query_on_a_new_connection(bridge)
        sent += 1
    settled = samples(scrape_settled(bridge, sent))
    assert rpc_count(settled, "device.query", "ok") == sent
    assert sum(_served_by(bridge, pid) for pid in workers) == sent
    for _ in range(4):  # whichever worker answers the scrape, it shows both workers' counts
        assert rpc_count(samples(scrape(bridge)), "device.query", "ok") == sent

    victim = next(iter(workers))
    os.kill(victim, signal.SIGKILL)
    replacement = _wait_for_workers(bridge, 2, gone=victim) - workers
    assert len(replacement) == 1
    metrics_dir = bridge.data_dir / "metrics"
    deadline = time.monotonic() + 10
    while list(metrics_dir.glob(f"gauge_live*_{victim}.db")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(metrics_dir.glob(f"gauge_live*_{victim}.db")), "the dead worker's live gauges still count"
    _query_on_a_new_connection(bridge)
    found = samples(scrape_settled(bridge, sent + 1))
    assert rpc_count(found, "device.query", "ok") == sent + 1  # the dead worker's counts are kept
    assert found[("adhoc_calls_live", frozenset())] == 0


def test_a_restart_starts_the_counts_from_zero(bridge_factory: BridgeFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / "restart"
    first = bridge_factory(data_dir=data_dir, env_overrides={"ADHOC_SERVER__WORKERS": "2"})
    _query_on_a_new_connection(first)
    assert rpc_count(samples(scrape_settled(first, 1)), "device.query", "ok") == 1
    assert first.stop() == 0
    second = bridge_factory(data_dir=data_dir, env_overrides={"ADHOC_SERVER__WORKERS": "2"})
    assert rpc_count(samples(scrape(second)), "device.query", "ok") == 0
