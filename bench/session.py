"""One benchmark run's state: the servers it started, how each load step is measured, what it printed."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import LoadResult, LoadSpec
from bench.processes import SERVER_CPUS, Server, busy_cpu_seconds, start_service
from bench.report import Row, Step, format_row
from bench.runner import run_load

USER = "cucm-bench"
PASSWORD = "bench-Ext-pa55"  # a throwaway credential for this run only; the service gets its argon2 hash
LIVE_LARGE = 100_000
WARM_CONNECTIONS = 8


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Session:
    work: Path
    duration: float
    password_hash: str
    servers: list[Server] = field(default_factory=list)
    cold_starts: list[tuple[str, LoadResult]] = field(default_factory=list)

    def credentials_env(self) -> dict[str, str]:
        return {
            "ADHOC_EXTERNAL_SYSTEM__USERNAME": USER,
            "ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH": self.password_hash,
            "ADHOC_ADMIN__PASSWORD_HASH": self.password_hash,
            # Room for 100,000 live conferences plus the cycles in flight on top of them.
            "ADHOC_CONFERENCES__MAX_CONFERENCES": str(LIVE_LARGE + 64),
        }

    def service(
        self, name: str, *, workers: int = 1, cpus: str = SERVER_CPUS, extra_env: dict[str, str] | None = None
    ) -> Server:
        env = {**self.credentials_env(), **(extra_env or {})}
        server = start_service(self.work / name, env, workers=workers, cpus=cpus, name=name)
        self.servers.append(server)
        # Warm every worker's credential cache before measuring: on a cold cache each concurrent first
        # request runs its own argon2 verify (2 at a time per process). 8 fresh connections reach both workers.
        spec = self.spec(server, "device_query", WARM_CONNECTIONS, duration=0.5, warmup=0.0)
        self.cold_starts.append((name, run_load(spec)))
        return server

    def adopt(self, server: Server) -> Server:
        self.servers.append(server)
        return server

    def stop(self, server: Server) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in list(self.servers):
            self.stop(server)

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

    def load(self, server: Server, scenario: str, connections: int, **extra: object) -> Step:
        """Run one step; also measure the server's CPU per request and what other processes took meanwhile."""
        server_before, busy_before, began = server.cpu_seconds(), busy_cpu_seconds(), time.monotonic()
        result = run_load(self.spec(server, scenario, connections, **extra))
        server_cpu = server.cpu_seconds() - server_before
        busy, wall = busy_cpu_seconds() - busy_before, time.monotonic() - began
        foreign = max(0.0, busy - server_cpu - result.client_cpu_seconds)
        return Step(
            result=result,
            server_us=server_cpu / result.completed * 1e6 if result.completed else 0.0,
            others=foreign / (wall * (os.cpu_count() or 1)),
        )

    def record(self, label: str, step: Step | None, baseline: Step | None = None, note: str = "") -> Step | None:
        say(format_row(Row(label, step, baseline, note)))
        return step
