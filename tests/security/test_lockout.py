"""Guessing slowed down, against the real server: the guesser's address is locked, CUCM's never is.

The attacker is 127.0.0.2 (Linux routes all of 127/8 to lo); hashes are counted from the server's
"password verification" debug lines.
"""

from __future__ import annotations

import json
import time
import xmlrpc.client
from typing import Any

import httpx

from tests.conftest import BridgeFactory
from tests.support.bridge import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    EXTERNAL_PASSWORD,
    EXTERNAL_USER,
    KNOWN_SECRETS,
    Bridge,
    auth,
)

ATTACKER = "127.0.0.2"
GUESSES = [f"Guess-{index:02d}-lockout" for index in range(40)]
KNOWN_SECRETS.update(GUESSES)
ADMIN_PATH = "/api/admin/configuration/v1/global/"


def _records(bridge: Bridge) -> list[dict[str, Any]]:
    return [json.loads(line) for line in bridge.log_text().splitlines() if line.startswith("{")]


def _hashes(bridge: Bridge, source: str) -> int:
    return sum(1 for r in _records(bridge) if r.get("msg") == "password verification" and r.get("source") == source)


def _lines(bridge: Bridge, message: str) -> list[dict[str, Any]]:
    return [r for r in _records(bridge) if r.get("msg") == message]


def _client(bridge: Bridge, source: str, **kwargs: Any) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source, verify=bridge.ssl_context())
    return httpx.Client(base_url=bridge.https_url, transport=transport, timeout=30, **kwargs)


def _rpc(client: httpx.Client, password: str, *, basic: bool = False) -> tuple[int, int | None]:
    """(HTTP status, fault code) of one device.query with in-body credentials, or Basic ones."""
    params = {} if basic else auth(password=password)
    body = xmlrpc.client.dumps((params,), "device.query").encode()
    response = client.post(
        "/RPC2",
        content=body,
        headers={"content-type": "text/xml", "connection": "close"},
        auth=(EXTERNAL_USER, password) if basic else httpx.USE_CLIENT_DEFAULT,
    )
    if response.status_code != 200:
        return response.status_code, None
    try:
        xmlrpc.client.loads(response.content)
    except xmlrpc.client.Fault as fault:
        return 200, fault.faultCode
    return 200, None


def _wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_twenty_guesses_lock_the_source_and_not_cucm_on_any_worker(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json", "ADHOC_SERVER__WORKERS": "2"})
    with _client(bridge, ATTACKER) as attacker, _client(bridge, "127.0.0.1") as cucm:
        answers = [_rpc(attacker, guess, basic=index % 2 == 1) for index, guess in enumerate(GUESSES[:20])]
        assert answers[:10] == [(200, 15), (401, None)] * 5
        assert set(answers[10:]) <= {(200, 15), (401, None)}
        hashes = _hashes(bridge, ATTACKER)
        assert hashes == 10  # the ten guesses after the lockout started cost no hash
        assert _rpc(attacker, EXTERNAL_PASSWORD) == (200, 15)  # the right password, from the locked source
        assert _rpc(attacker, EXTERNAL_PASSWORD, basic=True) == (401, None)
        locked_admin = attacker.get(ADMIN_PATH, auth=(ADMIN_USER, ADMIN_PASSWORD))
        assert locked_admin.status_code == 429
        assert locked_admin.json() == {"error": "too many failed authentications"}
        assert 55 <= int(locked_admin.headers["retry-after"]) <= 60
        assert _hashes(bridge, ATTACKER) == hashes
        assert _rpc(cucm, EXTERNAL_PASSWORD) == (200, None)  # another source: accepted at once
        assert cucm.get(ADMIN_PATH, auth=(ADMIN_USER, ADMIN_PASSWORD)).status_code == 200
    started = _lines(bridge, "authentication lockout started")
    assert [(line["peer"], line["window_s"]) for line in started] == [(ATTACKER, 60.0)]


def test_admin_guesses_are_answered_429_with_retry_after(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json"})
    with _client(bridge, ATTACKER) as attacker:
        statuses = [attacker.get(ADMIN_PATH, auth=(ADMIN_USER, guess)).status_code for guess in GUESSES[:12]]
        assert statuses == [401] * 10 + [429] * 2
        assert _hashes(bridge, ATTACKER) == 10
        assert _rpc(attacker, EXTERNAL_PASSWORD) == (200, 15)  # one table for both credentials


def test_the_window_doubles_ends_and_one_success_resets_it(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(
        env_overrides={
            "ADHOC_LOG__FORMAT": "json",
            "ADHOC_SERVER__LOCKOUT_WINDOW": "2",
            "ADHOC_SERVER__LOCKOUT_MAX_WINDOW": "4",
        }
    )
    retry_afters = []
    with _client(bridge, ATTACKER) as attacker:
        for lockout in range(1, 4):
            for guess in GUESSES[:10]:
                assert attacker.get(ADMIN_PATH, auth=(ADMIN_USER, guess)).status_code == 401
            refused = attacker.get(ADMIN_PATH, auth=(ADMIN_USER, ADMIN_PASSWORD))
            assert refused.status_code == 429
            retry_afters.append(int(refused.headers["retry-after"]))
            _wait_for(lambda n=lockout: len(_lines(bridge, "authentication lockout ended")) == n)
        assert attacker.get(ADMIN_PATH, auth=(ADMIN_USER, ADMIN_PASSWORD)).status_code == 200  # ended
        for guess in GUESSES[:10]:
            assert attacker.get(ADMIN_PATH, auth=(ADMIN_USER, guess)).status_code == 401
        assert attacker.get(ADMIN_PATH, auth=(ADMIN_USER, ADMIN_PASSWORD)).status_code == 429
    windows = [line["window_s"] for line in _lines(bridge, "authentication lockout started")]
    assert windows == [2.0, 4.0, 4.0, 2.0]  # doubled up to the maximum; the success reset it
    # Retry-After rounds the time left up: the window itself, or a second less on a slow machine.
    for window, retry in zip((2, 4, 4), retry_afters, strict=True):
        assert window - 1 <= retry <= window
    ended = _lines(bridge, "authentication lockout ended")
    assert [line["peer"] for line in ended] == [ATTACKER] * 3


def test_behind_a_trusted_proxy_the_forwarded_address_is_judged(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json", "ADHOC_SERVER__TRUSTED_PROXIES": "127.0.0.1"})
    with _client(bridge, "127.0.0.1") as proxy:
        for guess in GUESSES[:10]:
            proxy.headers["x-forwarded-for"] = "198.51.100.7"
            assert _rpc(proxy, guess) == (200, 15)
        assert _rpc(proxy, EXTERNAL_PASSWORD) == (200, 15)  # 198.51.100.7 is locked
        proxy.headers["x-forwarded-for"] = "198.51.100.8"
        assert _rpc(proxy, EXTERNAL_PASSWORD) == (200, None)
        del proxy.headers["x-forwarded-for"]
        assert _rpc(proxy, EXTERNAL_PASSWORD) == (200, None)  # the proxy itself is not locked
    assert [line["peer"] for line in _lines(bridge, "authentication lockout started")] == ["198.51.100.7"]
