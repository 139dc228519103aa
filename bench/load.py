"""The load generator: N keep-alive HTTPS connections on one asyncio (uvloop) loop, in its own process.

Run as ``python -m bench.load '<json LoadSpec>'``; prints one JSON ``LoadResult`` on stdout. Every
connection sends one request, waits for the whole reply, records the latency and sends the next (closed
loop). Only requests started inside the measuring window (after the warm-up) count. The run stops by
itself: at ``duration`` (a conference cycle in flight is finished first, uncounted) or, whatever the
server does, at ``duration + HARD_STOP_GRACE`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import ssl
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import cast

from bench.scenarios import (
    ConferenceCycleScript,
    Credentials,
    EnumerateScript,
    FixedScript,
    PopulateScript,
    Script,
)

HARD_STOP_GRACE = 15.0
SCENARIOS = ("device_query", "cycle", "create_destroy", "enumerate", "populate")


@dataclass(frozen=True)
class LoadSpec:
    port: int
    cafile: str
    scenario: str
    connections: int
    duration: float = 4.0
    warmup: float = 1.0
    user: str = ""
    password: str = ""
    tag: str = "run"
    populate_total: int = 0  # populate: conferences to create (no time window; stops when done)
    host: str = "127.0.0.1"


@dataclass
class LoadResult:
    scenario: str
    connections: int
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    client_cpu: float = 0.0  # load-generator CPU seconds per wall second (1.0 = its core saturated)
    client_cpu_seconds: float = 0.0
    completed: int = 0  # every reply, warm-up and wind-down included (for server CPU per request)
    outcomes: dict[str, int] = field(default_factory=dict)
    connection_errors: int = 0

    @property
    def ok(self) -> bool:
        return self.requests > 0 and not self.outcomes and self.connection_errors == 0


class _Reply(asyncio.Protocol):
    """Collects one HTTP/1.1 reply at a time (Content-Length framed, as uvicorn sends them)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._status = 0
        self._body_start = -1
        self._end = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TLS transport is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionResetError("server closed the connection"))

    def exchange(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._end < 0:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self._buffer[:head_end]).lower()
            self._status = int(head[9:12])
            marker = head.find(b"content-length:")
            if marker < 0:
                self._fail(ValueError("reply without Content-Length"))
                return
            line_end = head.find(b"\r\n", marker)
            length = int(head[marker + 15 : line_end if line_end >= 0 else None])
            self._body_start = head_end + 4
            self._end = self._body_start + length
        if len(self._buffer) >= self._end:
            body = bytes(self._buffer[self._body_start : self._end])
            del self._buffer[: self._end]
            self._end = -1
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result((self._status, body))

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


def _script(spec: LoadSpec, connection: int) -> Script:
    host = f"{spec.host}:{spec.port}"
    creds = Credentials(spec.user, spec.password)
    if spec.scenario == "device_query":
        return FixedScript(creds.call(host, "device.query"))
    if spec.scenario == "cycle":
        return ConferenceCycleScript(host, creds, spec.tag, connection, with_status=True)
    if spec.scenario == "create_destroy":
        return ConferenceCycleScript(host, creds, spec.tag, connection, with_status=False)
    if spec.scenario == "enumerate":
        return EnumerateScript(host, creds)
    if spec.scenario == "populate":
        return PopulateScript(host, creds, range(connection, spec.populate_total, spec.connections))
    raise ValueError(f"unknown scenario {spec.scenario!r}; choose from {', '.join(SCENARIOS)}")


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.completed = 0
        self.outcomes: Counter[str] = Counter()
        self.connection_errors = 0


async def _drive(
    spec: LoadSpec, connection: int, context: ssl.SSLContext, window: tuple[float, float], tally: _Tally
) -> None:
    loop = asyncio.get_running_loop()
    script = _script(spec, connection)
    start, stop = window
    _transport, protocol = await loop.create_connection(_Reply, spec.host, spec.port, ssl=context)
    try:
        while True:
            now = time.perf_counter()
            if isinstance(script, PopulateScript):
                if script.done():
                    return
            elif now >= stop and script.at_boundary():
                return
            request = script.next_request()
            sent = time.perf_counter()
            status, body = await protocol.exchange(request)
            finished = time.perf_counter()
            outcome = script.on_response(status, body)
            tally.completed += 1
            if start <= sent < stop:
                tally.latencies.append(finished - sent)
                if outcome is not None:
                    tally.outcomes[outcome] += 1
    except (OSError, ValueError):
        tally.connection_errors += 1
    finally:
        if protocol.transport is not None:
            protocol.transport.close()


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def run_load(spec: LoadSpec) -> LoadResult:
    context = ssl.create_default_context(cafile=spec.cafile)
    tally = _Tally()
    began = time.perf_counter()
    populate = spec.scenario == "populate"
    start = began if populate else began + spec.warmup
    stop = float("inf") if populate else start + spec.duration
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    drivers = [_drive(spec, index, context, (start, stop), tally) for index in range(spec.connections)]
    limit = None if populate else spec.warmup + spec.duration + HARD_STOP_GRACE
    try:
        await asyncio.wait_for(asyncio.gather(*drivers), timeout=limit)
    except TimeoutError:
        tally.outcomes["hard-stop"] += 1
    ended = time.perf_counter()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    measured = (ended - began) if populate else spec.duration
    ordered = sorted(tally.latencies)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return LoadResult(
        scenario=spec.scenario,
        connections=spec.connections,
        requests=len(ordered),
        seconds=round(measured, 3),
        rps=round(len(ordered) / measured, 1) if measured > 0 else 0.0,
        p50_ms=round(_percentile(ordered, 0.50) * 1000, 3),
        p99_ms=round(_percentile(ordered, 0.99) * 1000, 3),
        mean_ms=round(sum(ordered) / len(ordered) * 1000, 3) if ordered else 0.0,
        client_cpu=round(cpu / (ended - began), 2) if ended > began else 0.0,
        client_cpu_seconds=round(cpu, 3),
        completed=tally.completed,
        outcomes=dict(tally.outcomes),
        connection_errors=tally.connection_errors,
    )


def _run(spec: LoadSpec) -> LoadResult:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(run_load(spec))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_load(spec))


def main(argv: list[str]) -> int:
    spec = LoadSpec(**json.loads(argv[1]))
    result = _run(spec)
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
