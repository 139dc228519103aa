"""prometheus-client's multiprocess mode: one directory of per-process value files shared by the workers.

The parent calls ``prepare_metrics_dir`` before anything imports the instruments (and so before it forks
the workers): it empties ``data_dir/metrics`` of the last run's files and sets ``PROMETHEUS_MULTIPROC_DIR``,
which every worker inherits. When a worker dies the parent calls ``mark_worker_dead``, so its live gauges
(calls, media engine) stop counting; its counters stay, as the totals they are.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_NAME = "metrics"
_INSTRUMENTS_MODULE = "app.metrics.instruments"


def metrics_dir(data_dir: Path) -> Path:
    return data_dir / METRICS_DIR_NAME


def prepare_metrics_dir(data_dir: Path) -> Path:
    """Create (or empty) ``data_dir/metrics`` and point prometheus-client at it, for this process and its
    children. Raises ``OSError`` when the directory cannot be made."""
    if _INSTRUMENTS_MODULE in sys.modules:
        raise RuntimeError("the metric instruments were imported before the multiprocess directory was set")
    directory = metrics_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
    return directory


def multiproc_dir() -> str | None:
    """The shared directory when multiprocess mode is on."""
    return os.environ.get(MULTIPROC_ENV) or None


def mark_worker_dead(pid: int) -> None:
    """A worker exited: drop its live-gauge files (no-op outside multiprocess mode)."""
    directory = multiproc_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
