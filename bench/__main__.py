"""``python -m bench``: every scenario in order, a table, the targets, and the summary as the last line."""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.security.passwords import hash_password
from bench.auth_cost import measure_auth
from bench.load import LoadResult, LoadSpec
from bench.populate import TEMPLATE_NAME, copy_template
from bench.probe import call
from bench.processes import ALL_CPUS, LOAD_CPUS, SERVER_CPUS, Server, start_baseline, start_service
from bench.report import HEADER, Row, Summary, Target, format_row, ratio
from bench.runner import capture_reply, run_load
from bench.scenarios import CYCLE_ID_BASE, Credentials

CONNECTIONS = (1, 8, 32)
LIVE_SMALL = 10
LIVE_LARGE = 100_000
SCALE_CONNECTIONS = 8
WARM_CONNECTIONS = 8
USER = "cucm-bench"
PASSWORD = "bench-Ext-pa55"  # a throwaway credential for this run only; the service gets its argon2 hash
DB_NAME = "adhoc-bridge.db"


def say(text: str) -> None:
    print(text, flush=True)


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
        f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}; "
        f"pinning: one-worker servers on CPU {SERVER_CPUS}, load generator on CPU {LOAD_CPUS} (taskset); "
        f"workers comparison: service on CPUs {ALL_CPUS}, load generator on CPU {LOAD_CPUS}"
    )


@dataclass
class Run:
    work: Path
    duration: float
    password_hash: str
    servers: list[Server] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    cold_starts: list[tuple[str, LoadResult]] = field(default_factory=list)

    def credentials_env(self) -> dict[str, str]:
        return {
            "ADHOC_EXTERNAL_SYSTEM__USERNAME": USER,
            "ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH": self.password_hash,
            "ADHOC_ADMIN__PASSWORD_HASH": self.password_hash,
            # Room for 100,000 live conferences plus the cycles in flight on top of them.
            "ADHOC_CONFERENCES__MAX_CONFERENCES": str(LIVE_LARGE + 64),
        }

    def service(self, name: str, *, workers: int = 1, cpus: str = SERVER_CPUS) -> Server:
        server = start_service(self.work / name, self.credentials_env(), workers=workers, cpus=cpus, name=name)
        self.servers.append(server)
        # Warm every worker's credential cache before measuring: on a cold cache each concurrent first
        # request runs its own argon2 verify (2 at a time per process). 8 fresh connections reach both workers.
        spec = self.spec(server, "device_query", WARM_CONNECTIONS, duration=0.5, warmup=0.0)
        self.cold_starts.append((name, run_load(spec)))
        return server

    def stop(self, server: Server) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def spec(self, server: Server, scenario: str, connections: int, **extra: object) -> LoadSpec:
        settings: dict[str, object] = {"duration": self.duration, **extra}
        return LoadSpec(
            port=server.port,
            cafile=str(server.cafile),
            scenario=scenario,
            connections=connections,
            user=USER,
            password=PASSWORD,
            tag=secrets.token_hex(3),  # conference names stay unique across steps and within 31 characters
            **settings,  # type: ignore[arg-type]
        )

    def load(self, server: Server, scenario: str, connections: int, **extra: object) -> LoadResult:
        return run_load(self.spec(server, scenario, connections, **extra))

    def record(self, label: str, result: LoadResult | None, baseline: LoadResult | None = None, note: str = "") -> None:
        row = Row(label, result, baseline, note)
        self.rows.append(row)
        say(format_row(row))


def _conferences_available(server: Server) -> str | None:
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


def bench(run: Run) -> Summary:
    say(f"machine: {machine()}")
    say(f"run: {run.duration:g} s measured per step after a 1 s warm-up; keep-alive HTTPS, verified TLS")

    auth = measure_auth(USER, PASSWORD, run.password_hash)

    service = run.service("service")
    device_query = Credentials(USER, PASSWORD).call(f"127.0.0.1:{service.port}", "device.query")
    reply = capture_reply(service.port, service.cafile, device_query)
    body_file = run.work / "device-query-reply.xml"
    body_file.write_bytes(reply)
    baseline = start_baseline(run.work, service.cafile, service.cafile.with_name("tls-key.pem"), body_file)
    run.servers.append(baseline)
    say(f"baseline reply: {len(reply)} bytes (a device.query reply captured from the service)")
    unavailable = _conferences_available(service)
    if unavailable:
        say(f"conference methods unavailable ({unavailable}): cycle, scale and enumerate steps are n/a")
    say("")

    say(HEADER)
    say("-" * len(HEADER))
    base_at: dict[int, LoadResult] = {}
    ours_dq: dict[int, LoadResult] = {}
    ours_cycle: dict[int, LoadResult] = {}
    for connections in CONNECTIONS:
        base_at[connections] = run.load(baseline, "device_query", connections)
        run.record("baseline (fixed reply)", base_at[connections])
        ours_dq[connections] = run.load(service, "device_query", connections)
        run.record("device.query", ours_dq[connections], base_at[connections])
        if unavailable:
            run.record("cycle create+status+destroy", None, note=unavailable)
        else:
            ours_cycle[connections] = run.load(service, "cycle", connections)
            run.record("cycle create+status+destroy", ours_cycle[connections], base_at[connections])
    run.stop(baseline)

    scale_small = scale_large = enum_small = None
    enum_large: dict[int, LoadResult] = {}
    rss_mb: float | None = None
    if not unavailable:
        assert (
            call(
                service.port,
                service.cafile,
                USER,
                PASSWORD,
                "conference.create",
                conferenceName=TEMPLATE_NAME,
                numericId=str(CYCLE_ID_BASE - 2),
            )
            is None
        )
        run.load(service, "populate", 1, populate_total=LIVE_SMALL - 1)
        scale_small = run.load(service, "create_destroy", SCALE_CONNECTIONS)
        run.record(f"create+destroy, {LIVE_SMALL} live", scale_small, base_at[SCALE_CONNECTIONS])
        enum_small = run.load(service, "enumerate", 32)
        run.record(f"enumerate page, {LIVE_SMALL} live", enum_small, base_at[32])
        run.stop(service)
        began = time.monotonic()
        live = copy_template(service.cafile.parent / DB_NAME, LIVE_LARGE - LIVE_SMALL, LIVE_SMALL - 1)
        say(f"-- populated to {live} live conferences (SQL copy of a template row) in {time.monotonic() - began:.1f} s")
        service = run.service("service")
        scale_large = run.load(service, "create_destroy", SCALE_CONNECTIONS)
        run.record(f"create+destroy, {live} live", scale_large, base_at[SCALE_CONNECTIONS])
        for connections in CONNECTIONS:
            enum_large[connections] = run.load(service, "enumerate", connections)
            run.record(f"enumerate page, {live} live", enum_large[connections], base_at[connections])
        rss_mb = service.peak_rss_mb()
    run.stop(service)

    workers: dict[int, LoadResult] = {}
    workers_dq: dict[int, LoadResult] = {}
    for count in (1, 2):
        server = run.service(f"workers{count}", workers=count, cpus=ALL_CPUS)
        workers_dq[count] = run.load(server, "device_query", 32)
        run.record(f"device.query, {count} worker(s), CPUs {ALL_CPUS}", workers_dq[count], base_at[32])
        if not unavailable:
            workers[count] = run.load(server, "cycle", 32)
            run.record(f"cycle, {count} worker(s), CPUs {ALL_CPUS}", workers[count], base_at[32])
        run.stop(server)

    request_seconds = 1 / ours_dq[32].rps if ours_dq[32].rps else 0.0
    auth_share = (auth.hit_us / 1e6) / request_seconds if request_seconds else 0.0
    say("")
    say(
        f"auth: cache hit {auth.hit_us:.1f} us, cache miss (argon2 verify) {auth.miss_ms:.1f} ms "
        f"(miss/hit {auth.miss_ms * 1000 / auth.hit_us:.0f}x); device.query server time per request "
        f"{request_seconds * 1e6:.0f} us (1/rps at 32 connections, one worker on one CPU)"
    )
    scale_ratio = ratio(scale_small.rps, scale_large.rps) if scale_small and scale_large else None
    if scale_small and scale_large:
        say(
            f"create+destroy: {2e6 / scale_small.rps:.0f} us per pair at {LIVE_SMALL} live, "
            f"{2e6 / scale_large.rps:.0f} us at {LIVE_LARGE}; "
            f"p50 {scale_small.p50_ms:.2f} -> {scale_large.p50_ms:.2f} ms"
        )
    if enum_small and enum_large:
        say(f"enumerate: page cost at {LIVE_LARGE} / at {LIVE_SMALL} = {ratio(enum_small.rps, enum_large[32].rps):.2f}")
    for name, cold in run.cold_starts:
        say(
            f"cold start of {name} (empty auth cache, {cold.connections} connections): {cold.requests} requests, "
            f"p50 {cold.p50_ms:.0f} ms, p99 {cold.p99_ms:.0f} ms"
        )
    if rss_mb is not None:
        say(f"peak RSS (VmHWM, all service processes) after the {LIVE_LARGE:,} steps: {rss_mb:.0f} MiB")
    cycle_basis = workers if workers else workers_dq
    workers2 = ratio(cycle_basis[2].rps, cycle_basis[1].rps)
    dq32, cycle32 = ours_dq[32], ours_cycle.get(32)
    say("")
    say("targets:")
    targets = [
        Target("device.query rps / baseline at 32 conns", ratio(dq32.rps, base_at[32].rps), 0.60, True),
        Target(
            "ad hoc cycle rps / baseline at 32 conns",
            ratio(cycle32.rps, base_at[32].rps) if cycle32 else None,
            0.40,
            True,
        ),
        Target("device.query p99 at 32 conns", dq32.p99_ms, 10, False, " ms"),
        Target("ad hoc cycle p99 at 32 conns", cycle32.p99_ms if cycle32 else None, 10, False, " ms"),
        Target("auth share of request time (cache hit)", auth_share, 0.05, False),
        Target("create+destroy cost 100k / 10", scale_ratio, 1.2, False),
        Target("peak RSS at 100k", rss_mb, 200, False, " MiB"),
        Target(f"2 workers / 1 ({'cycle' if workers else 'device.query'})", workers2, 1.3, True),
    ]
    for target in targets:
        say(target.line())
    return Summary(
        device_query_ratio=ratio(dq32.rps, base_at[32].rps),
        adhoc_cycle_ratio=ratio(cycle32.rps, base_at[32].rps) if cycle32 else 0.0,
        auth_share=auth_share,
        scale_ratio=scale_ratio or 0.0,
        rss_mb=rss_mb or 0.0,
        workers2_ratio=workers2,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per step (default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args(argv)
    if shutil.which("taskset") is None:
        say("taskset (util-linux) is required to pin the servers and the load generator")
        return 2
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="adhoc-bench-"))
    run = Run(work=work, duration=args.duration, password_hash=hash_password(PASSWORD))
    try:
        summary = bench(run)
    finally:
        for server in list(run.servers):
            run.stop(server)
        if args.keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    say(f"elapsed: {time.monotonic() - began:.0f} s")
    say(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
