"""The media part of ``make bench``: SIPp callers into conferences that the embedded Janus mixes.

Two passes on one service, each into ``CONFERENCES`` fresh conferences created over XML-RPC: SIPp (UAC,
``media_uac.xml``) places ``CONFERENCES * CALLERS`` CUCM-like early-offer calls at ``CALLS_PER_SECOND``, each
playing sip-tester's G.711 A-law pcap for as long as it is held, long enough that every call is up at once.
The *short* pass holds each call ``SHORT_HOLD_MS`` (6 s, the hold of the first version of this bench, kept so
the figures stay comparable); the *main* pass holds it ``HOLD_MS`` (60 s: real ad hoc calls last minutes, and
with a 6 s hold the ratio mostly compares our set-up and tear-down with a few seconds of mixing).
Measured per pass, over the whole SIPp run (every call's set-up and tear-down included): INVITE-to-200 set-up
time (SIPp's response time distribution, p50/p99), calls that failed, our CPU and Janus' CPU (the signalling
share: what the bridge costs on top of the mixing it drives) and our CPU per call (all of our CPU in the run
over the calls, the background work of the hold included). Before the calls, our CPU over ``IDLE_SECONDS``
with no call (the background loops) is measured too.
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
HOLD_MS = 60_000
SHORT_HOLD_MS = 6000
IDLE_SECONDS = 5.0
NUMERIC_BASE = 8_800_000
SCENARIO = REPO_ROOT / "bench" / "media_uac.xml"
PCAP = Path("/usr/share/sip-tester/g711a.pcap")
JANUS_READY = b"media: janus ready"


@dataclass(frozen=True)
class PassFigures:
    hold_ms: int
    calls: int  # calls placed
    failed: int  # calls that did not complete INVITE ... 200 ... BYE 200
    setup_p50_ms: float
    setup_p99_ms: float
    signalling_cpu_share: float  # CPU of our processes / (ours + Janus'), over the whole SIPp run
    ours_cpu_s: float
    janus_cpu_s: float
    wall_s: float

    @property
    def cpu_per_call_ms(self) -> float:
        """All of our CPU in the run over the calls (the background work while they are held included)."""
        return self.ours_cpu_s / self.calls * 1000 if self.calls else 0.0


@dataclass(frozen=True)
class MediaFigures:
    main: PassFigures  # HOLD_MS: the figures the targets are checked on
    short: PassFigures  # SHORT_HOLD_MS: the first version's hold, for comparison
    idle_ms_per_s: float  # our CPU with no call, per second (background loops)


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


def _create_conferences(server: Server, first: int) -> list[str] | str:
    """``CONFERENCES`` conferences numbered from ``first``: their numericIds, or what went wrong."""
    numbers = [str(NUMERIC_BASE + first + index) for index in range(CONFERENCES)]
    for index, number in enumerate(numbers):
        problem = call(
            server.port, server.cafile, USER, PASSWORD, "conference.create",
            conferenceName=f"media-bench-{first + index}", numericId=number,
        )  # fmt: skip
        if problem is not None:
            return f"conference.create: {problem}"
    return numbers


def _sipp_pass(run: Session, server: Server, sip_port: int, numbers: list[str], hold_ms: int) -> PassFigures:
    work = run.work / f"media-sipp-{hold_ms}"
    work.mkdir(parents=True, exist_ok=True)
    calls = CONFERENCES * CALLERS
    injection = work / "numbers.csv"
    injection.write_text("SEQUENTIAL\n" + "".join(f"{numbers[i % CONFERENCES]};\n" for i in range(calls)))
    ours_before, janus_before, began = server.cpu_seconds(), server.janus_cpu_seconds(), time.monotonic()
    argv = [
        "sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIO), "-inf", str(injection),
        "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port() & ~1),
        "-r", str(CALLS_PER_SECOND), "-m", str(calls), "-l", str(calls), "-d", str(hold_ms),
        "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1", "-nostdin",
        "-timeout", f"{hold_ms // 1000 + 60}s", "-timeout_error",
    ]  # fmt: skip
    completed = subprocess.run(
        pinned(LOAD_CPUS, argv), cwd=work, capture_output=True, timeout=hold_ms / 1000 + 120, check=False
    )
    ours_cpu = server.cpu_seconds() - ours_before
    janus_cpu = server.janus_cpu_seconds() - janus_before
    wall = time.monotonic() - began
    setups = _setup_times(work)
    failed = _failed_calls(work)
    if failed is None:
        failed = calls - len(setups) if completed.returncode != 0 else 0
    total = ours_cpu + janus_cpu
    return PassFigures(
        hold_ms=hold_ms,
        calls=calls,
        failed=failed,
        setup_p50_ms=_percentile(setups, 0.50),
        setup_p99_ms=_percentile(setups, 0.99),
        signalling_cpu_share=ours_cpu / total if total > 0 else 0.0,
        ours_cpu_s=ours_cpu,
        janus_cpu_s=janus_cpu,
        wall_s=wall,
    )


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
        short_numbers = _create_conferences(server, 0)
        main_numbers = _create_conferences(server, CONFERENCES)
        if isinstance(short_numbers, str) or isinstance(main_numbers, str):
            say(f"media: n/a ({short_numbers if isinstance(short_numbers, str) else main_numbers})")
            return None
        idle_before = server.cpu_seconds()
        time.sleep(IDLE_SECONDS)
        idle_ms_per_s = (server.cpu_seconds() - idle_before) / IDLE_SECONDS * 1000
        short = _sipp_pass(run, server, sip_port, short_numbers, SHORT_HOLD_MS)
        main = _sipp_pass(run, server, sip_port, main_numbers, HOLD_MS)
        return MediaFigures(main=main, short=short, idle_ms_per_s=idle_ms_per_s)
    finally:
        run.stop(server)
