"""``python -m bench``: every scenario in order, a table, the targets, and the summary as the last line."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.security.passwords import hash_password
from bench.auth_cost import AuthCost, measure_auth
from bench.media import CALLERS, CALLS_PER_SECOND, CONFERENCES, IDLE_SECONDS, PassFigures, media_bench
from bench.populate import TEMPLATE_NAME, copy_template
from bench.probe import call
from bench.processes import ALL_CPUS, LOAD_CPUS, SERVER_CPUS, Server, start_baseline
from bench.report import HEADER, Step, Summary, Target, bracketed, ratio
from bench.runner import capture_reply
from bench.scenarios import CYCLE_ID_BASE, Credentials
from bench.session import LIVE_LARGE, PASSWORD, USER, Session, say

CONNECTIONS = (1, 8, 32)
SUMMARY_CONNECTIONS = 32
LIVE_SMALL = 10
SCALE_CONNECTIONS = 8
DB_NAME = "adhoc-bridge.db"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.2f}\n"
        f"pinning (taskset): one-worker servers (baseline, service) on CPU {SERVER_CPUS}, load generator on CPU "
        f"{LOAD_CPUS}; workers comparison: service on CPUs {ALL_CPUS}, load generator on CPU {LOAD_CPUS}"
    )


def conferences_unavailable(server: Server) -> str | None:
    """None when create/status/destroy all work, else why not."""
    probe_name = "bench-probe"
    for method, params in (
        ("conference.create", {"conferenceName": probe_name, "numericId": str(CYCLE_ID_BASE - 1)}),
        ("conference.status", {"conferenceName": probe_name}),
        ("conference.destroy", {"conferenceName": probe_name}),
    ):
        reason = call(server.port, server.cafile, USER, PASSWORD, method, **params)
        if reason is not None:
            return f"{method}: {reason}"
    return None


@dataclass
class Figures:
    base: dict[int, Step] = field(default_factory=dict)
    fastapi_base: dict[int, Step] = field(default_factory=dict)
    device_query: dict[int, Step] = field(default_factory=dict)
    cycle: dict[int, Step] = field(default_factory=dict)
    scale_small: Step | None = None
    scale_large: Step | None = None
    enum_small: Step | None = None
    enum_large: dict[int, Step] = field(default_factory=dict)
    rss_mb: float | None = None
    live_large: int = 0
    workers_dq: dict[int, Step] = field(default_factory=dict)
    workers_cycle: dict[int, Step] = field(default_factory=dict)


def against_baseline(run: Session, service: Server, figures: Figures, unavailable: str | None) -> None:
    """Baseline, device.query and the ad hoc cycle at 1, 8 and 32 connections, interleaved."""
    request = Credentials(USER, PASSWORD).call(f"127.0.0.1:{service.port}", "device.query")
    reply = capture_reply(service.port, service.cafile, request)
    body_file = run.work / "device-query-reply.xml"
    body_file.write_bytes(reply)
    keyfile = service.cafile.with_name("tls-key.pem")
    baseline = run.adopt(start_baseline(run.work, service.cafile, keyfile, body_file))
    fastapi_baseline = run.adopt(start_baseline(run.work, service.cafile, keyfile, body_file, fastapi=True))
    say(f"baseline reply: {len(reply)} bytes (a device.query reply captured from the service)")
    say("fastapi baseline: the same reply from a bare FastAPI route behind a trivial dependency\n")
    say(HEADER)
    say("-" * len(HEADER))
    for connections in CONNECTIONS:
        base = figures.base[connections] = run.load(baseline, "device_query", connections)
        run.record("baseline (fixed reply)", base)
        fastapi_base = figures.fastapi_base[connections] = run.load(fastapi_baseline, "device_query", connections)
        run.record("fastapi baseline (fixed reply)", fastapi_base, base)
        figures.device_query[connections] = run.load(service, "device_query", connections)
        run.record("device.query", figures.device_query[connections], base)
        if unavailable:
            run.record("ad hoc cycle (create+status+destroy)", None, note=unavailable)
        else:
            figures.cycle[connections] = run.load(service, "cycle", connections)
            run.record("ad hoc cycle (create+status+destroy)", figures.cycle[connections], base)
        if connections == SUMMARY_CONNECTIONS:  # the summary's yardstick: measured again after our two steps
            again = run.load(fastapi_baseline, "device_query", connections)
            run.record("fastapi baseline, again after them", again, base)
            figures.fastapi_base[connections] = bracketed(fastapi_base, again)
    run.stop(baseline)
    run.stop(fastapi_baseline)


def at_scale(run: Session, service: Server, figures: Figures) -> Server:
    """create+destroy with 10 live conferences, then with 100,000; enumerate pages; peak RSS."""
    assert call(service.port, service.cafile, USER, PASSWORD, "conference.create", conferenceName=TEMPLATE_NAME,
                numericId=str(CYCLE_ID_BASE - 2)) is None  # fmt: skip
    run.load(service, "populate", 1, populate_total=LIVE_SMALL - 1)
    base = figures.base[SCALE_CONNECTIONS]
    figures.scale_small = run.load(service, "create_destroy", SCALE_CONNECTIONS)
    run.record(f"create+destroy, {LIVE_SMALL} live", figures.scale_small, base)
    figures.enum_small = run.load(service, "enumerate", 32)
    run.record(f"enumerate page, {LIVE_SMALL} live", figures.enum_small, figures.base[32])
    run.stop(service)
    began = time.monotonic()
    figures.live_large = copy_template(service.cafile.parent / DB_NAME, LIVE_LARGE - LIVE_SMALL, LIVE_SMALL - 1)
    say(f"-- {figures.live_large} live conferences (SQL copies of a template row) in {time.monotonic() - began:.1f} s")
    service = run.service("service")
    figures.scale_large = run.load(service, "create_destroy", SCALE_CONNECTIONS)
    run.record(f"create+destroy, {figures.live_large} live", figures.scale_large, base)
    for connections in CONNECTIONS:
        figures.enum_large[connections] = run.load(service, "enumerate", connections)
        run.record(
            f"enumerate page, {figures.live_large} live", figures.enum_large[connections], figures.base[connections]
        )
    figures.rss_mb = service.peak_rss_mb()
    return service


def workers(run: Session, figures: Figures, unavailable: str | None) -> None:
    for count in (1, 2):
        server = run.service(f"workers{count}", workers=count, cpus=ALL_CPUS)
        figures.workers_dq[count] = run.load(server, "device_query", 32)
        run.record(f"device.query, {count} worker(s), CPUs {ALL_CPUS}", figures.workers_dq[count])
        if not unavailable:
            figures.workers_cycle[count] = run.load(server, "cycle", 32)
            run.record(f"ad hoc cycle, {count} worker(s), CPUs {ALL_CPUS}", figures.workers_cycle[count])
        run.stop(server)


def conclude(run: Session, figures: Figures, auth: AuthCost) -> Summary:
    dq32, base32, cycle32 = figures.device_query[32], figures.base[32], figures.cycle.get(32)
    fastapi32 = figures.fastapi_base[32]
    fastapi_dq = ratio(dq32.rps, fastapi32.rps)
    fastapi_cycle = ratio(cycle32.rps, fastapi32.rps) if cycle32 else 0.0
    request_us = dq32.server_us
    auth_share = auth.hit_us / request_us if request_us else 0.0
    say("")
    say(
        f"auth: cache hit {auth.hit_us:.1f} us, cache miss (argon2 verify) {auth.miss_ms:.1f} ms "
        f"({auth.miss_ms * 1000 / auth.hit_us:.0f}x a hit); device.query costs the server {request_us:.0f} us CPU "
        f"per request, so a cache hit is {auth_share:.1%} of it"
    )
    for name, cold in run.cold_starts:
        say(
            f"cold start of {name} (empty auth cache, {cold.connections} new connections at once): "
            f"p50 {cold.p50_ms:.0f} ms, p99 {cold.p99_ms:.0f} ms"
        )
    scale_ratio = None
    small, large = figures.scale_small, figures.scale_large
    if small and large:
        # The cost is taken as the worse of server CPU per request and wall time per request (1/req/s).
        by_cpu, by_rate = ratio(large.server_us, small.server_us), ratio(small.rps, large.rps)
        scale_ratio = max(by_cpu, by_rate)
        say(
            f"create+destroy: server CPU per request {small.server_us:.0f} us at {LIVE_SMALL} live, "
            f"{large.server_us:.0f} us at {figures.live_large} ({by_cpu:.2f}x); req/s {small.rps:.0f} -> "
            f"{large.rps:.0f} ({by_rate:.2f}x the time)"
        )
    if figures.enum_small and figures.enum_large:
        enum_small, enum_large = figures.enum_small, figures.enum_large[32]
        say(
            f"enumerate page (24 conferences): server CPU {enum_small.server_us:.0f} us at {LIVE_SMALL} live, "
            f"{enum_large.server_us:.0f} us at {figures.live_large}"
        )
    if figures.rss_mb is not None:
        say(f"peak RSS (VmHWM, all service processes) after the {figures.live_large:,} steps: {figures.rss_mb:.0f} MiB")
    cycle_cpu_ratio = ratio(base32.server_us, cycle32.server_us) if cycle32 else None
    basis = figures.workers_cycle or figures.workers_dq
    workers2 = ratio(basis[2].rps, basis[1].rps)
    say("\ntargets (req/s ratios are what the summary reports; CPU-per-request ratios resist a noisy machine):")
    targets = [
        Target("device.query req/s / baseline, 32 conns", ratio(dq32.rps, base32.rps), 0.60, True),
        Target("  same by server CPU per request", ratio(base32.server_us, dq32.server_us), 0.60, True),
        Target(
            "ad hoc cycle req/s / baseline, 32 conns", ratio(cycle32.rps, base32.rps) if cycle32 else None, 0.40, True
        ),
        Target("  same by server CPU per request", cycle_cpu_ratio, 0.40, True),
        Target("device.query req/s / fastapi baseline (mean of before and after), 32 conns", fastapi_dq, 0.60, True),
        Target("  same by server CPU per request", ratio(fastapi32.server_us, dq32.server_us), 0.60, True),
        Target(
            "ad hoc cycle req/s / fastapi baseline (mean of before and after), 32 conns",
            fastapi_cycle if cycle32 else None,
            0.40,
            True,
        ),
        Target(
            "  same by server CPU per request",
            ratio(fastapi32.server_us, cycle32.server_us) if cycle32 else None,
            0.40,
            True,
        ),
        Target("device.query p99, 32 conns", dq32.result.p99_ms, 10, False, " ms"),
        Target("ad hoc cycle p99, 32 conns", cycle32.result.p99_ms if cycle32 else None, 10, False, " ms"),
        Target("auth share of request time (cache hit)", auth_share, 0.05, False),
        Target("create+destroy cost 100k / 10 (worse of CPU, time)", scale_ratio, 1.2, False),
        Target("peak RSS at 100k", figures.rss_mb, 200, False, " MiB"),
        Target(
            f"2 workers / 1 ({'ad hoc cycle' if figures.workers_cycle else 'device.query'}) req/s", workers2, 1.3, True
        ),
    ]
    for target in targets:
        say(target.line())
    return Summary(
        device_query_ratio=ratio(dq32.rps, base32.rps),
        adhoc_cycle_ratio=ratio(cycle32.rps, base32.rps) if cycle32 else 0.0,
        auth_share=auth_share,
        scale_ratio=scale_ratio or 0.0,
        rss_mb=figures.rss_mb or 0.0,
        workers2_ratio=workers2,
        fastapi_device_query_ratio=fastapi_dq,
        fastapi_adhoc_cycle_ratio=fastapi_cycle,
    )


def _media_pass_line(figures: PassFigures) -> str:
    return (
        f"media, calls held {figures.hold_ms / 1000:g} s: {figures.calls} calls ({CONFERENCES} conferences x "
        f"{CALLERS} callers, {CALLS_PER_SECOND} new calls/s, all up at once), {figures.failed} failed; INVITE-to-200 "
        f"p50 {figures.setup_p50_ms:.1f} ms, p99 {figures.setup_p99_ms:.1f} ms; CPU over the {figures.wall_s:.1f} s "
        f"run: ours {figures.ours_cpu_s:.2f} s ({figures.cpu_per_call_ms:.1f} ms per call), Janus "
        f"{figures.janus_cpu_s:.2f} s; signalling share {figures.signalling_cpu_share:.3f}"
    )


def media_part(run: Session) -> str:
    """The media step (SIPp calls into Janus-mixed conferences), its targets, and its summary fields."""
    say("\nmedia: SIPp callers into conferences mixed by the embedded Janus")
    media = media_bench(run)
    if media is None:
        return "media_calls=0"
    main, short = media.main, media.short
    say(f"media: our CPU with no call: {media.idle_ms_per_s:.1f} ms per second (over {IDLE_SECONDS:g} s)")
    say(_media_pass_line(short))
    say(_media_pass_line(main))
    for target in (
        Target("media set-up p99 at 20 new calls/s", max(main.setup_p99_ms, short.setup_p99_ms), 100, False, " ms"),
        Target(
            f"media signalling CPU share, 50 calls held {main.hold_ms // 1000} s", main.signalling_cpu_share, 0.1, False
        ),
        Target("media calls dropped (both runs)", float(main.failed + short.failed), 0, False),
    ):
        say(target.line())
    return (
        f"media_calls={main.calls - main.failed} media_setup_p50_ms={main.setup_p50_ms:.1f} "
        f"media_setup_p99_ms={max(main.setup_p99_ms, short.setup_p99_ms):.1f} "
        f"media_signalling_cpu_share={main.signalling_cpu_share:.2f} media_hold_s={main.hold_ms // 1000} "
        f"media_cpu_per_call_ms={main.cpu_per_call_ms:.1f} "
        f"media_signalling_cpu_share_6s={short.signalling_cpu_share:.2f} "
        f"media_cpu_per_call_ms_6s={short.cpu_per_call_ms:.1f} media_idle_cpu_ms_per_s={media.idle_ms_per_s:.1f}"
    )


def bench(run: Session) -> Summary:
    say(f"machine: {machine()}")
    say(f"each step: 1 s warm-up, {run.duration:g} s measured; keep-alive HTTPS with verified TLS; closed loop")
    auth = measure_auth(USER, PASSWORD, run.password_hash)
    figures = Figures()
    service = run.service("service")
    unavailable = conferences_unavailable(service)
    if unavailable:
        say(f"conference methods unavailable ({unavailable}): cycle, scale and enumerate steps are n/a")
    against_baseline(run, service, figures, unavailable)
    if not unavailable:
        service = at_scale(run, service, figures)
    run.stop(service)
    workers(run, figures, unavailable)
    summary = conclude(run, figures, auth)
    return replace(summary, media=media_part(run))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per step (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    parser.add_argument("--media-only", action="store_true", help="only the media part (SIPp calls into Janus)")
    args = parser.parse_args(argv)
    if shutil.which("taskset") is None:
        say("taskset (util-linux) is required to pin the servers and the load generator")
        return 2
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="adhoc-bench-"))
    run = Session(work=work, duration=args.duration, password_hash=hash_password(PASSWORD))
    try:
        if args.media_only:
            say(f"machine: {machine()}")
            say(f"summary: {media_part(run)}")
            return 0
        summary = bench(run)
    finally:
        run.stop_all()
        if args.keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(f"elapsed: {time.monotonic() - began:.0f} s; load average at end {os.getloadavg()[0]:.2f}")
    say(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
