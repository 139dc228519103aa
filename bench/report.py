"""The printed table, the target checks and the final summary line."""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import LoadResult


def ratio(ours: float, base: float) -> float:
    return ours / base if base > 0 else 0.0


@dataclass(frozen=True)
class Row:
    label: str
    result: LoadResult | None  # None: not measured (method not available)
    baseline: LoadResult | None = None
    note: str = ""


def _outcomes(result: LoadResult) -> str:
    parts = [f"{name}x{count}" for name, count in sorted(result.outcomes.items())]
    if result.connection_errors:
        parts.append(f"conn-errors x{result.connection_errors}")
    return ",".join(parts) or "-"


HEADER = (
    f"{'scenario':<34} {'conns':>5} {'req/s':>9} {'x base':>7} {'p50 ms':>8} {'x base':>7} "
    f"{'p99 ms':>8} {'x base':>7} {'lg cpu':>6}  errors"
)


def format_row(row: Row) -> str:
    result = row.result
    if result is None:
        return f"{row.label:<34} {'':>5} {'n/a':>9}  {row.note}"
    base = row.baseline
    rps_x = f"{ratio(result.rps, base.rps):7.2f}" if base else f"{'':>7}"
    p50_x = f"{ratio(result.p50_ms, base.p50_ms):7.2f}" if base else f"{'':>7}"
    p99_x = f"{ratio(result.p99_ms, base.p99_ms):7.2f}" if base else f"{'':>7}"
    line = (
        f"{row.label:<34} {result.connections:>5} {result.rps:>9.1f} {rps_x} {result.p50_ms:>8.2f} {p50_x} "
        f"{result.p99_ms:>8.2f} {p99_x} {result.client_cpu:>6.2f}  {_outcomes(result)}"
    )
    return f"{line}  {row.note}" if row.note else line


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None
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

    def line(self) -> str:
        return (
            f"summary: device_query_ratio={self.device_query_ratio:.2f} adhoc_cycle_ratio={self.adhoc_cycle_ratio:.2f} "
            f"auth_share={self.auth_share:.2f} scale_ratio={self.scale_ratio:.2f} rss_mb={round(self.rss_mb)} "
            f"workers2_ratio={self.workers2_ratio:.2f}"
        )
