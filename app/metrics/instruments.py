"""The instruments, and the one-line hooks other packages call to move them.

Label values are bounded: the XML-RPC method is a registered method name or ``unknown``; the API, carrier
and outcome are literals from our own code. No username, password or conference name is ever a label.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``app.metrics.multiproc``) every value lives in a per-process
mmap file that ``GET /metrics`` sums over the workers; without it (in-process tests) in memory.

The per-request instruments (``observe_rpc``) are tallied in plain counters first and published into
those values every ``PUBLISH_SECONDS`` (and by ``publish_rpc_observations``, which ``GET /metrics`` and
a worker's shutdown call): one mmap write per series per interval instead of three per request. A scrape
answered by another worker lags this one's requests by at most that interval; a worker killed outright
loses at most that interval's counts.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Mapping
from typing import Any, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Api = Literal["external_system", "admin"]
Carrier = Literal["body", "basic", "none"]

# The XML-RPC dialects served at /RPC2: Cisco TelePresence MCU API 2.9, and the Conductor's factory.* methods
# (CUCM's Meeting Server type speaks the same two).
MCU_DIALECT = "mcu"
CONDUCTOR_DIALECT = "conductor"
UNKNOWN_METHOD = "unknown"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REGISTRY = CollectorRegistry(auto_describe=True)

RPC_REQUESTS = Counter(
    "adhoc_rpc_requests",
    "XML-RPC requests answered, by dialect, method (registered names only, else unknown) and outcome.",
    ("dialect", "method", "outcome"),
    registry=REGISTRY,
)
RPC_LATENCY = Histogram(
    "adhoc_rpc_request_duration_seconds",
    "Time from the request's arrival to the end of its reply, by dialect and method.",
    ("dialect", "method"),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "adhoc_authentication_failures",
    "Refused authentications, by API (external_system, admin) and carrier (body, basic, none).",
    ("api", "carrier"),
    registry=REGISTRY,
)
CALLS_LIVE = Gauge(
    "adhoc_calls_live",
    "Calls in progress (summed over live workers); 0 while the bridge places no calls.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
MEDIA_ENGINE_UP = Gauge(
    "adhoc_media_engine_up",
    "1 when the media engine answers, 0 when it does not or none is configured (highest of live workers).",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)

_CARRIERS: dict[Api, tuple[Carrier, ...]] = {"external_system": ("body", "basic", "none"), "admin": ("basic", "none")}
for _api, _carriers in _CARRIERS.items():
    for _carrier in _carriers:
        AUTH_FAILURES.labels(_api, _carrier)  # every series exists from the start, at 0

_CARRIER_VALUES = frozenset(get_args(Carrier))

_known_methods: frozenset[str] | None = None
# (method label, outcome) -> (counter child, histogram child): one dict lookup per request, bounded in size.
_rpc_children: dict[tuple[str, str], tuple[Any, Any]] = {}
PUBLISH_SECONDS = 0.25


class _Tally:
    """One (method, outcome) series' requests since the last publish: count, latency sum, per bucket."""

    __slots__ = ("count", "seconds", "buckets")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf


_tallies: dict[tuple[str, str], _Tally] = {}
_publish_scheduled = False


def publish_rpc_observations() -> None:
    """Move every tallied request into the shared values (what a scrape reads)."""
    global _publish_scheduled
    _publish_scheduled = False
    while _tallies:
        key, tally = _tallies.popitem()
        counter, histogram = _children_of(*key)
        counter.inc(tally.count)
        # Histogram.observe adds one observation; these add a tally's worth (the same values it moves).
        histogram._sum.inc(tally.seconds)
        for bucket, count in zip(histogram._buckets, tally.buckets, strict=True):
            if count:
                bucket.inc(count)


def _children_of(method: str, outcome: str) -> tuple[Any, Any]:
    children = _rpc_children.get((method, outcome))
    if children is None:
        dialect = CONDUCTOR_DIALECT if method.startswith("factory.") else MCU_DIALECT
        children = RPC_REQUESTS.labels(dialect, method, outcome), RPC_LATENCY.labels(dialect, method)
        _rpc_children[(method, outcome)] = children
    return children


def _schedule_publish() -> None:
    global _publish_scheduled
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on an event loop: nobody would publish later
        publish_rpc_observations()
        return
    _publish_scheduled = True
    loop.call_later(PUBLISH_SECONDS, publish_rpc_observations)


def _registered_methods() -> frozenset[str]:
    global _known_methods
    if _known_methods is None:
        from app.xmlrpc.registry import dispatcher

        _known_methods = dispatcher.methods
    return _known_methods


def observe_rpc(note: Mapping[str, Any] | None, status: int | None, seconds: float) -> None:
    """One /RPC2 request ended: what ``note_rpc`` recorded about it, its HTTP status (None: nothing was
    sent) and its latency."""
    default = "disconnected" if status is None else "ok" if status < 400 else "refused"
    if note is None:
        method, outcome = UNKNOWN_METHOD, default
    else:
        method = note.get("rpc_method", UNKNOWN_METHOD)
        outcome = note.get("outcome") or default
        if method not in _registered_methods():
            method = UNKNOWN_METHOD
    tally = _tallies.get((method, outcome))
    if tally is None:
        tally = _tallies[(method, outcome)] = _Tally()
    tally.count += 1
    tally.seconds += seconds
    tally.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1  # le: the first bound >= seconds
    if not _publish_scheduled:
        _schedule_publish()


def auth_failed(api: Api, carrier: Carrier | str) -> None:
    """An authentication was refused. ``carrier`` is one of ``Carrier``'s literals (typed ``str`` too, for
    callers that carry it as one); anything else is counted as ``other``. Never pass who tried or with what."""
    if carrier not in _CARRIER_VALUES:
        carrier = "other"
    AUTH_FAILURES.labels(api, carrier).inc()


def call_started() -> None:
    """A call was set up in this worker (``adhoc_calls_live`` + 1)."""
    CALLS_LIVE.inc()


def call_ended() -> None:
    """A call of this worker ended (``adhoc_calls_live`` - 1)."""
    CALLS_LIVE.dec()


def set_calls_live(count: int) -> None:
    """This worker's calls in progress, for code that keeps its own count."""
    CALLS_LIVE.set(count)


def set_media_engine_up(up: bool) -> None:
    """What this worker last saw of the media engine."""
    MEDIA_ENGINE_UP.set(1 if up else 0)
