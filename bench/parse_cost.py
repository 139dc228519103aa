"""The cost of reading one CUCM request body, old (defused expat only) and new (fast reader first), in process.

Run pinned to one core, e.g. ``taskset -c 1 .venv/bin/python -m bench.parse_cost``. Prints the median over
rounds of the microseconds per call for ``read_call`` and ``parse_call`` on typical bodies, and the fast
reader's own cost on 64 KiB hostile bodies (which it declines, so the defused reader's cost follows).
"""

from __future__ import annotations

import statistics
import time
import xmlrpc.client
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any
from unittest.mock import patch

from app.xmlrpc import codec
from app.xmlrpc.call_reader import read_call, read_call_defused
from app.xmlrpc.fast_call import read_call_fast

ROUNDS = 41
TARGET_ROUND_SECONDS = 0.005
_USER = {"authenticationUser": "cucm-bench", "authenticationPassword": "bench-Ext-pa55"}

BODIES = {
    "device.query": xmlrpc.client.dumps((_USER,), methodname="device.query").encode(),
    "conference.create (8 members)": xmlrpc.client.dumps(
        (
            {
                **_USER,
                "conferenceName": "adhoc-000123",
                "numericId": "5550123",
                "pin": "4321",
                "durationSeconds": 3600,
                "maximumVideoPorts": 8,
                "locked": False,
            },
        ),
        methodname="conference.create",
    ).encode(),
    "participant.enumerate (array, struct)": xmlrpc.client.dumps(
        (
            {
                **_USER,
                "operationScope": ["currentState", "configuredState"],
                "enumerateID": "1f",
                "filter": {"conferenceName": "adhoc-000123", "limit": 50},
            },
        ),
        methodname="participant.enumerate",
    ).encode(),
}


def _hostile() -> dict[str, bytes]:
    head = b"<methodCall><methodName>m</methodName><params><param><value><struct>"
    member = b"<member><name>n</name><value><string>v</string></value></member>\n"
    size = 64 * 1024
    return {
        "64 KiB: 960 members, then a stray byte": head
        + member * (size // len(member) - 2)
        + b"</struct></value></param></params></methodCall>x",
        "64 KiB: spaces, no end": head + b" " * (size - len(head) - 1) + b"x",
        "64 KiB: &amp; x 13k, then a bare &": head + b"<member><name>" + b"&amp;" * (size // 5 - 30) + b"&",
        "64 KiB: a nested struct never closed": head
        + b"<member><name>n</name><value><struct>"
        + member * (size // len(member) - 3)
        + b"<",
        "64 KiB: <value> x 9k": b"<value>" * (size // 7),
    }


Call = Callable[[bytes], Any]


def _defused_parse_call() -> AbstractContextManager[Any]:
    """``parse_call`` as it was: it looks ``read_call`` up at each call, so patch it there (for a round)."""
    return patch.object(codec, "read_call", read_call_defused)


def _calls_per_round(call: Call, body: bytes) -> int:
    began = time.perf_counter()
    for _ in range(10):
        call(body)
    return max(1, int(TARGET_ROUND_SECONDS / max((time.perf_counter() - began) / 10, 1e-7)))


def per_call_us(*calls: tuple[Call, Callable[[], AbstractContextManager[Any]]], body: bytes) -> list[float]:
    """For each (call, context of its rounds), the median over ROUNDS of the time per call. Rounds last
    about TARGET_ROUND_SECONDS and the calls take turns round by round, so that a neighbour's load falls
    on all of them alike."""
    numbers = []
    for call, context in calls:
        with context():
            numbers.append(_calls_per_round(call, body))
    rounds: list[list[float]] = [[] for _ in calls]
    for _ in range(ROUNDS):
        for (call, context), number, times in zip(calls, numbers, rounds, strict=True):
            with context():
                began = time.perf_counter()
                for _ in range(number):
                    call(body)
                times.append((time.perf_counter() - began) / number)
    return [statistics.median(times) * 1e6 for times in rounds]


def main() -> None:
    print(f"{'body':40} {'read old':>9} {'read new':>9} {'ratio':>6} {'parse old':>10} {'parse new':>10} {'ratio':>6}")
    for name, body in BODIES.items():
        assert read_call_fast(body) is not None
        assert read_call(body) == read_call_defused(body)
        read_old, read_new, parse_old, parse_new = per_call_us(
            (read_call_defused, nullcontext),
            (read_call, nullcontext),
            (codec.parse_call, _defused_parse_call),
            (codec.parse_call, nullcontext),
            body=body,
        )
        print(
            f"{name:40} {read_old:9.2f} {read_new:9.2f} {read_new / read_old:6.2f}"
            f" {parse_old:10.2f} {parse_new:10.2f} {parse_new / parse_old:6.2f}"
        )
    print(f"\n{'hostile body (declined)':40} {'fast us':>9} {'defused us':>11}")
    for name, body in _hostile().items():
        assert read_call_fast(body) is None
        refused = _refused(read_call_defused)
        fast, defused = per_call_us((read_call_fast, nullcontext), (refused, nullcontext), body=body)
        print(f"{name:40} {fast:9.1f} {defused:11.1f}")


def _refused(reader: Call) -> Call:
    def read(body: bytes) -> None:
        with suppress(Exception):  # a refusal is the expected outcome; only its cost is measured
            reader(body)

    return read


if __name__ == "__main__":
    main()
