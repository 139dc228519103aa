"""Instructions per request under callgrind: the service's steps against the FastAPI yardstick, in one run.

``python -m bench`` measures time, and time on a shared host swings with whatever else the host is doing
(the same code's ad hoc cycle ratio read 0.47, 0.41, 0.37, 0.44 and 0.29 in five runs of one afternoon,
ours moving twice as much as the yardstick). Callgrind counts the instructions each server executes
instead: two runs agree within about 1.5%, however busy the host is. Run as ``make bench-instructions``
or ``python -m bench.instructions`` (about two minutes; valgrind is Debian's ``valgrind`` package).

It prints thousands of instructions (kIr) per request for device.query and the ad hoc cycle on the
service and for the yardstick's fixed reply, and the yardstick's count over ours: what
``fastapi_device_query_ratio`` and ``fastapi_adhoc_cycle_ratio`` would be if every instruction took as
long. (They do not: ours touches more memory per request, so on a busy host its instructions get slower
than the yardstick's; the wall-clock ratios are the targets.)

Each server runs alone under ``valgrind --tool=callgrind --instr-atstart=no``. A step counts a short and a
long window of the load generator (32 connections) and divides the difference in instructions by the
difference in replies: what is fixed per window (32 TLS handshakes, the load generator's connecting) cancels.
What a server does per second whatever the load (the service's one-second ticks) is counted in an idle
window first and taken out, so the count does not depend on how fast valgrind lets the server run.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.security.passwords import hash_password
from bench.load import LoadSpec
from bench.processes import Server, start_baseline, start_service
from bench.runner import capture_reply, run_load
from bench.scenarios import Credentials
from bench.session import PASSWORD, USER, Session, say

CONNECTIONS = 32
SHORT_SECONDS = 4.0
LONG_SECONDS = 12.0
IDLE_SECONDS = 4.0
READY_SECONDS = 300.0  # start-up under valgrind takes tens of seconds


@dataclass(frozen=True)
class Count:
    label: str
    kir_per_request: float
    requests: int


def _callgrind(out_dir: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_dir}/callgrind.%p"]


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], capture_output=True, check=True, timeout=120)


def _instructions(pid: int, out_dir: Path) -> int:
    """Dump the counts so far and return their total (instructions since the last zeroing)."""
    before = set(glob.glob(f"{out_dir}/callgrind.{pid}*"))
    _control(pid, "-d")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the server writes the dump when it next runs: wait for its total
        for dump in set(glob.glob(f"{out_dir}/callgrind.{pid}*")) - before:
            for line in Path(dump).read_text().splitlines():
                if line.startswith("totals:"):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump for {pid}")


def _window(server: Server, spec: LoadSpec | None, out_dir: Path, idle_seconds: float = 0.0) -> tuple[int, int, float]:
    """Instructions, replies and seconds of one counted window: a load step, or (no spec) an idle wait."""
    pid = server.process.pid  # valgrind runs the server in its own process: same pid
    _control(pid, "-z")
    _control(pid, "-i", "on")
    began = time.monotonic()
    if spec is None:
        time.sleep(idle_seconds)
        completed = 0
    else:
        result = run_load(spec, timeout=spec.duration + 300)
        if not result.ok:
            raise RuntimeError(f"{spec.scenario} under valgrind failed: {result.outcomes or result.connection_errors}")
        completed = result.completed
    seconds = time.monotonic() - began
    _control(pid, "-i", "off")
    return _instructions(pid, out_dir), completed, seconds


def measure(run: Session, server: Server, scenario: str, label: str, out_dir: Path) -> Count:
    def spec(seconds: float) -> LoadSpec:
        return run.spec(server, scenario, CONNECTIONS, duration=seconds, warmup=0.0)

    run_load(spec(SHORT_SECONDS), timeout=SHORT_SECONDS + 300)  # uncounted: caches filled (argon2 verify and all)
    idle_ir, _none, idle_s = _window(server, None, out_dir, IDLE_SECONDS)
    per_second = idle_ir / idle_s  # the server's own ticks, which a slower server spreads over fewer requests
    short_ir, short_n, short_s = _window(server, spec(SHORT_SECONDS), out_dir)
    long_ir, long_n, long_s = _window(server, spec(LONG_SECONDS), out_dir)
    if long_n <= short_n:
        raise RuntimeError(f"{label}: the long window answered no more requests than the short one")
    extra_ir = (long_ir - per_second * long_s) - (short_ir - per_second * short_s)
    count = Count(label, extra_ir / (long_n - short_n) / 1000, long_n - short_n)
    say(f"{label:<40} {count.kir_per_request:>8.0f} kIr/request  ({count.requests} requests between the windows)")
    return count


def main() -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        say("valgrind is not installed (Debian package valgrind)")
        return 1
    work = Path(tempfile.mkdtemp(prefix="adhoc-bench-instructions-"))
    out_dir = work / "callgrind"
    out_dir.mkdir()
    run = Session(work, LONG_SECONDS, hash_password(PASSWORD))
    wrapper = _callgrind(out_dir)
    try:
        service = run.adopt(
            start_service(work / "service", run.credentials_env(), wrapper=wrapper, ready_timeout=READY_SECONDS)
        )
        request = Credentials(USER, PASSWORD).call(f"127.0.0.1:{service.port}", "device.query")
        body_file = work / "device-query-reply.xml"
        body_file.write_bytes(capture_reply(service.port, service.cafile, request))
        ours_dq = measure(run, service, "device_query", "device.query (service)", out_dir)
        ours_cycle = measure(run, service, "cycle", "ad hoc cycle (service)", out_dir)
        run.stop(service)
        yardstick = run.adopt(
            start_baseline(
                work,
                service.cafile,
                service.cafile.with_name("tls-key.pem"),
                body_file,
                fastapi=True,
                wrapper=wrapper,
                ready_timeout=READY_SECONDS,
            )
        )
        base = measure(run, yardstick, "device_query", "fastapi baseline (fixed reply)", out_dir)
    finally:
        run.stop_all()
    dq_ratio = base.kir_per_request / ours_dq.kir_per_request
    cycle_ratio = base.kir_per_request / ours_cycle.kir_per_request
    say(f"summary: fastapi_device_query_ir_ratio={dq_ratio:.3f} fastapi_adhoc_cycle_ir_ratio={cycle_ratio:.3f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
