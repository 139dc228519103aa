"""While 64 connections from 127.0.0.2 queue wrong passwords, CUCM's and the admin's first (uncached)
requests from 127.0.0.1 wait for at most the one verification already running.

Order and counts come from the server's debug lines: "password verification queued" when a verification
has to wait, "password verification" when it starts (with ``ahead``: how many ran or started before it
while it waited).
"""

from __future__ import annotations

import json
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import BridgeFactory
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, KNOWN_SECRETS, Bridge, auth

ATTACKER = "127.0.0.2"
GUESSING_CONNECTIONS = 64
GUESSES = [f"Fair-guess-{index:02d}" for index in range(GUESSING_CONNECTIONS)]
KNOWN_SECRETS.update(GUESSES)


def _records(bridge: Bridge) -> list[dict[str, Any]]:
    return [json.loads(line) for line in bridge.log_text().splitlines() if line.startswith("{")]


def _verifications(bridge: Bridge) -> list[dict[str, Any]]:
    wanted = ("password verification", "password verification queued")
    return [r for r in _records(bridge) if r.get("msg") in wanted]


def _guess(bridge: Bridge, password: str, started: threading.Event) -> int | None:
    transport = httpx.HTTPTransport(local_address=ATTACKER, verify=bridge.ssl_context())
    body = xmlrpc.client.dumps((auth(password=password),), "device.query").encode()
    with httpx.Client(base_url=bridge.https_url, transport=transport, timeout=120) as client:
        started.set()
        response = client.post("/RPC2", content=body, headers={"content-type": "text/xml"})
    try:
        xmlrpc.client.loads(response.content)
    except xmlrpc.client.Fault as fault:
        return fault.faultCode
    return None


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _served_fairly(lines: list[dict[str, Any]], checker: str) -> None:
    """The first 127.0.0.1 verification of ``checker`` queued behind a busy gate, and started next."""
    ours = [i for i, r in enumerate(lines) if r["source"] == "127.0.0.1" and r["checker"] == checker]
    assert [lines[i]["msg"] for i in ours] == ["password verification queued", "password verification"]
    queued, started = ours
    others_started = [r for r in lines[queued + 1 : started] if r["msg"] == "password verification"]
    assert len(others_started) <= 1
    assert lines[started]["ahead"] <= 1
    # ... while the attacker still had verifications waiting: it jumped a real queue.
    waiting = sum(1 for r in lines[:queued] if r["msg"] == "password verification queued")
    done = sum(1 for r in lines[:started] if r["msg"] == "password verification" and r["source"] == ATTACKER)
    assert waiting - done >= 10


def test_a_new_source_waits_for_at_most_one_verification(bridge_factory: BridgeFactory) -> None:
    # Lockout out of the way (1000 failures): this is about the queue, not the guessing limit.
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json", "ADHOC_SERVER__AUTH_FAILURE_LIMIT": "1000"})
    started = [threading.Event() for _ in GUESSES]
    with ThreadPoolExecutor(GUESSING_CONNECTIONS) as pool:
        futures = [pool.submit(_guess, bridge, guess, flag) for guess, flag in zip(GUESSES, started, strict=True)]

        def backlog() -> int:
            lines = _verifications(bridge)
            queued = sum(1 for r in lines if r["msg"] == "password verification queued")
            done = sum(1 for r in lines if r["msg"] == "password verification")
            return queued - done

        _wait_for(lambda: backlog() >= 20)
        with xmlrpc.client.ServerProxy(f"{bridge.https_url}/RPC2", context=bridge.ssl_context()) as cucm:
            assert isinstance(cucm.device.query(auth()), dict)
        admin = httpx.get(
            f"{bridge.https_url}/api/admin/configuration/v1/global/",
            auth=(ADMIN_USER, ADMIN_PASSWORD),
            verify=bridge.ssl_context(),
            timeout=60,
        )
        assert admin.status_code == 200
        assert [future.result() for future in futures] == [15] * GUESSING_CONNECTIONS
    lines = _verifications(bridge)
    _served_fairly(lines, "external_system")
    _served_fairly(lines, "admin")
    hashed = [r for r in lines if r["msg"] == "password verification"]
    assert len(hashed) == GUESSING_CONNECTIONS + 2  # every guess was verified: none was dropped to be fair
