"""The media part of ``make bench``: SIPp callers into conferences that the embedded Janus mixes.

``CONFERENCES`` conferences are created over XML-RPC; SIPp (UAC, ``media_uac.xml``) places
``CONFERENCES * CALLERS`` CUCM-like early-offer calls at ``CALLS_PER_SECOND``, each playing sip-tester's
G.711 A-law pcap for as long as it is held (``HOLD_MS``, long enough that every call is up at once). Measured:
INVITE-to-200 set-up time (SIPp's response time distribution, p50/p99), calls that failed, and the CPU our
processes spent against the CPU Janus spent over the same run (the signalling share: what the bridge costs on
top of the mixing it drives).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.probe import call
from bench.processes import LOAD_CPUS, REPO_ROOT, Server, free_port, pinned
from bench.session import PASSWORD, USER, Session, say

CONFERENCES = 10
CALLERS = 5
CALLS_PER_SECOND = 20
HOLD_MS = 6000
NUMERIC_BASE = 8_800_000
SCENARIO = REPO_ROOT / "bench" / "media_uac.xml"
PCAP = Path("/usr/share/sip-tester/g711a.pcap")
JANUS_READY = b"media: janus ready"


@dataclass(frozen=True)
class MediaFigures:
    calls: int  # calls placed
    failed: int  # calls that did not complete INVITE ... 200 ... BYE 200
    setup_p50_ms: float
    setup_p99_ms: float
    signalling_cpu_share: float  # CPU of our processes / (ours + Janus'), over the whole run
    ours_cpu_s: float
    janus_cpu_s: float


def _wait_for_janus(server: Server, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if JANUS_READY in server.log_path.read_bytes():
            return True
        time.sleep(0.2)
    return False


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _setup_times(work: Path) -> list[float]:
    """SIPp's -trace_rtt file: ``Date_ms;response_time_ms;rtd_no`` per completed set-up."""
    times: list[float] = []
    for path in work.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 2:
                try:
                    times.append(float(parts[1]))
                except ValueError:
                    continue
    return times


def _failed_calls(work: Path) -> int | None:
    """The last ``FailedCall(C)`` of SIPp's -trace_stat file (None when it wrote none)."""
    for path in work.glob("*_.csv"):
        lines = path.read_text().splitlines()
        if len(lines) < 2:
            continue
        header, last = lines[0].split(";"), lines[-1].split(";")
        if "FailedCall(C)" in header:
            return int(last[header.index("FailedCall(C)")])
    return None


def unavailable() -> str | None:
    for tool in ("sipp", "janus"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (make bench installs the test packages as root)"
    if not PCAP.exists():
        return f"{PCAP} missing (Debian package sip-tester)"
    if os.geteuid() != 0:
        return "SIPp plays pcap audio through a raw socket: run as root"
    return None


def media_bench(run: Session) -> MediaFigures | None:
    reason = unavailable()
    if reason is not None:
        say(f"media: n/a ({reason})")
        return None
    sip_port = free_port()  # the SIP socket binds UDP and TCP on it
    server = run.service(
        "media",
        extra_env={
            "ADHOC_SIP__LOCAL_HOST": "127.0.0.1",
            "ADHOC_SIP__LOCAL_PORT": str(sip_port),
            "ADHOC_MEDIA__RTP_PORTS": "46000-46999",
        },
    )
    try:
        if not _wait_for_janus(server):
            say("media: n/a (the embedded Janus did not come up)")
            return None
        numbers = [str(NUMERIC_BASE + index) for index in range(CONFERENCES)]
        for index, number in enumerate(numbers):
            problem = call(
                server.port, server.cafile, USER, PASSWORD, "conference.create",
                conferenceName=f"media-bench-{index}", numericId=number,
            )  # fmt: skip
            if problem is not None:
                say(f"media: n/a (conference.create: {problem})")
                return None
        work = run.work / "media-sipp"
        work.mkdir(parents=True, exist_ok=True)
        calls = CONFERENCES * CALLERS
        injection = work / "numbers.csv"
        injection.write_text("SEQUENTIAL\n" + "".join(f"{numbers[i % CONFERENCES]};\n" for i in range(calls)))
        ours_before, janus_before = server.cpu_seconds(), server.janus_cpu_seconds()
        argv = [
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIO), "-inf", str(injection),
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port() & ~1),
            "-r", str(CALLS_PER_SECOND), "-m", str(calls), "-l", str(calls), "-d", str(HOLD_MS),
            "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1", "-nostdin",
            "-timeout", "60s", "-timeout_error",
        ]  # fmt: skip
        completed = subprocess.run(pinned(LOAD_CPUS, argv), cwd=work, capture_output=True, timeout=120, check=False)
        ours_cpu = server.cpu_seconds() - ours_before
        janus_cpu = server.janus_cpu_seconds() - janus_before
        setups = _setup_times(work)
        failed = _failed_calls(work)
        if failed is None:
            failed = calls - len(setups) if completed.returncode != 0 else 0
        total = ours_cpu + janus_cpu
        return MediaFigures(
            calls=calls,
            failed=failed,
            setup_p50_ms=_percentile(setups, 0.50),
            setup_p99_ms=_percentile(setups, 0.99),
            signalling_cpu_share=ours_cpu / total if total > 0 else 0.0,
            ours_cpu_s=ours_cpu,
            janus_cpu_s=janus_cpu,
        )
    finally:
        run.stop(server)
