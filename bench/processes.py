"""Starting, pinning, measuring and stopping the servers under test (always by PID)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER_CPUS = "0"  # one-worker servers (baseline and service) run on CPU 0 ...
LOAD_CPUS = "1"  # ... the load generator on CPU 1
ALL_CPUS = "0,1"  # the workers comparison lets the service use both (the load generator stays on CPU 1)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU time spent busy by the whole machine (all CPUs, all processes) since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpus: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *argv]


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    cafile: Path
    log_path: Path

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; log: {self.log_path}")
            try:
                context = ssl.create_default_context(cafile=str(self.cafile))  # written by the service at start
                with httpx.Client(verify=context, timeout=5) as client:
                    client.get(f"https://127.0.0.1:{self.port}/healthz").raise_for_status()
                return
            except (httpx.HTTPError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s; log: {self.log_path}")

    def pids(self) -> list[int]:
        """The server process and all its descendants (forked workers)."""
        found: list[int] = []
        queue = [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            queue.extend(int(child) for child in children)
        return found

    def peak_rss_mb(self) -> float:
        """Sum over every server process of VmHWM (peak resident set), in MiB."""
        total_kib = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024

    def janus_pids(self) -> set[int]:
        """The media engine the service started (the embedded Janus), one of its descendants."""
        found = set()
        for pid in self.pids():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "janus":
                    found.add(pid)
            except OSError:
                continue
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of every server process so far, the embedded Janus left out."""
        janus = self.janus_pids()
        return _cpu_seconds(pid for pid in self.pids() if pid not in janus)

    def janus_cpu_seconds(self) -> float:
        return _cpu_seconds(self.janus_pids())

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cpu_seconds(pids: Iterable[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def _spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_service(
    data_dir: Path,
    credentials: dict[str, str],
    *,
    workers: int = 1,
    cpus: str = SERVER_CPUS,
    name: str = "service",
    wrapper: Sequence[str] = (),
    ready_timeout: float = 30,
) -> Server:
    """``python -m app`` with the external system's argon2 hash configured, like tests/support/bridge.py.

    ``wrapper`` goes in front of the command (``bench.instructions`` runs the service under valgrind)."""
    https_port, http_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADHOC_")}
    env.update(
        {
            "ADHOC_SETTINGS_FILE": str(REPO_ROOT / "settings.toml"),
            "ADHOC_DATA_DIR": str(data_dir),
            "ADHOC_SERVER__HOST": "127.0.0.1",
            "ADHOC_SERVER__HTTPS_PORT": str(https_port),
            "ADHOC_SERVER__HTTP_PORT": str(http_port),
            "ADHOC_SERVER__WORKERS": str(workers),
            "ADHOC_SIP__LOCAL_PORT": "0",  # the SIP socket on an ephemeral port (the media step sets its own)
            **credentials,
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{name}.log"
    process = _spawn(pinned(cpus, [*wrapper, sys.executable, "-m", "app"]), env, log_path)
    server = Server(name, process, https_port, data_dir / "tls-cert.pem", log_path)
    server.wait_ready(ready_timeout)
    return server


def start_baseline(
    data_dir: Path,
    cafile: Path,
    keyfile: Path,
    body_file: Path,
    *,
    cpus: str = SERVER_CPUS,
    fastapi: bool = False,
    wrapper: Sequence[str] = (),
    ready_timeout: float = 30,
) -> Server:
    """The bare-uvicorn yardstick, or with ``fastapi`` the bare FastAPI route behind a trivial dependency."""
    port = free_port()
    name = "fastapi-baseline" if fastapi else "baseline"
    log_path = data_dir / f"{name}.log"
    argv = [*wrapper, sys.executable, "-m", "bench.baseline_app", str(port), str(cafile), str(keyfile), str(body_file)]
    if fastapi:
        argv.append("--fastapi")
    process = _spawn(pinned(cpus, argv), dict(os.environ), log_path)
    server = Server(name, process, port, cafile, log_path)
    server.wait_ready(ready_timeout)
    return server
