"""The printed table, the target checks and the final summary line."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bench.load import LoadResult


def ratio(ours: float, base: float) -> float:
    return ours / base if base > 0 else 0.0


@dataclass(frozen=True)
class Step:
    """One load step: the load generator's figures plus what the server and the machine spent meanwhile."""

    result: LoadResult
    server_us: float  # server CPU time (all its processes) per completed request, in microseconds
    others: float  # share of the machine's CPUs busy with other processes during the step (0..1)

    @property
    def rps(self) -> float:
        return self.result.rps


def bracketed(before: Step, after: Step) -> Step:
    """The mean of a yardstick measured before and after the steps it is compared with: a host whose speed
    drifts during those steps (other VMs) moves both sides of the ratio alike instead of one."""
    return Step(
        result=replace(before.result, rps=(before.rps + after.rps) / 2),
        server_us=(before.server_us + after.server_us) / 2,
        others=max(before.others, after.others),
    )


@dataclass(frozen=True)
class Row:
    label: str
    step: Step | None  # None: not measured (method not available)
    baseline: Step | None = None
    note: str = ""


def _outcomes(result: LoadResult) -> str:
    parts = [f"{name}x{count}" for name, count in sorted(result.outcomes.items())]
    if result.connection_errors:
        parts.append(f"conn-errors x{result.connection_errors}")
    return ",".join(parts) or "-"


HEADER = (
    f"{'scenario':<36} {'conns':>5} {'req/s':>8} {'x base':>6} {'p50 ms':>8} {'x base':>6} "
    f"{'p99 ms':>8} {'x base':>6} {'srv us/req':>10} {'x base':>6} {'lg cpu':>6} {'other':>5}  errors"
)


def _times(ours: float, base: float | None) -> str:
    return f"{ratio(ours, base):6.2f}" if base else f"{'':>6}"


def format_row(row: Row) -> str:
    step = row.step
    if step is None:
        return f"{row.label:<36} {'':>5} {'n/a':>8}  {row.note}"
    result, base = step.result, row.baseline
    rps, p50, p99 = (base.rps, base.result.p50_ms, base.result.p99_ms) if base else (None, None, None)
    line = (
        f"{row.label:<36} {result.connections:>5} {result.rps:>8.1f} {_times(result.rps, rps)} "
        f"{result.p50_ms:>8.2f} {_times(result.p50_ms, p50)} {result.p99_ms:>8.2f} {_times(result.p99_ms, p99)} "
        f"{step.server_us:>10.0f} {_times(step.server_us, base.server_us if base else None)} "
        f"{result.client_cpu:>6.2f} {step.others:>5.0%}  {_outcomes(result)}"
    )
    return f"{line}  {row.note}" if row.note else line


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None  # None: not measured
    goal: float
    higher_is_better: bool
    unit: str = ""

    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        met = self.measured >= self.goal if self.higher_is_better else self.measured <= self.goal
        return "met" if met else "MISSED"

    def line(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        shown = "n/a" if self.measured is None else f"{self.measured:.3f}{self.unit}"
        return f"  {self.name:<44} {shown:>12}  target {sign} {self.goal:g}{self.unit}  {self.verdict()}"


@dataclass(frozen=True)
class Summary:
    device_query_ratio: float
    adhoc_cycle_ratio: float
    auth_share: float
    scale_ratio: float
    rss_mb: float
    workers2_ratio: float
    fastapi_device_query_ratio: float = 0.0
    fastapi_adhoc_cycle_ratio: float = 0.0
    media: str = "media_calls=0"  # the media part's fields (``media_line``), or its n/a

    def line(self) -> str:
        return (
            f"summary: device_query_ratio={self.device_query_ratio:.2f} adhoc_cycle_ratio={self.adhoc_cycle_ratio:.2f} "
            f"auth_share={self.auth_share:.2f} scale_ratio={self.scale_ratio:.2f} rss_mb={round(self.rss_mb)} "
            f"workers2_ratio={self.workers2_ratio:.2f} "
            f"fastapi_device_query_ratio={self.fastapi_device_query_ratio:.2f} "
            f"fastapi_adhoc_cycle_ratio={self.fastapi_adhoc_cycle_ratio:.2f} {self.media}"
        )
