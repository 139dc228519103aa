"""External-system passwords as configured hashes, the never-open default, and the success cache."""

from __future__ import annotations

import time

import pytest
from passlib.hash import argon2, bcrypt, pbkdf2_sha256

from tests.conftest import BridgeFactory
from tests.support.bridge import EXTERNAL_PASSWORD, EXTERNAL_USER, KNOWN_SECRETS, Bridge, auth
from tests.support.clients import post_rpc

SLOW_HASH_PASSWORD = "Slow-hash-pw 9f1e"
KNOWN_SECRETS.add(SLOW_HASH_PASSWORD)

HASHERS = {
    "argon2": lambda password: argon2.hash(password),
    "bcrypt": lambda password: bcrypt.hash(password),
    "pbkdf2_sha256": lambda password: pbkdf2_sha256.hash(password),
}


def _hash_env(password_hash: str) -> dict[str, str | None]:
    return {"ADHOC_EXTERNAL_SYSTEM__PASSWORD": None, "ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH": password_hash}


@pytest.mark.parametrize("scheme", HASHERS)
def test_password_hash_of_each_scheme_authenticates(bridge_factory: BridgeFactory, scheme: str) -> None:
    password_hash = HASHERS[scheme](EXTERNAL_PASSWORD)
    bridge = bridge_factory(env_overrides=_hash_env(password_hash))
    assert post_rpc("xmlrpc", bridge, "device.query", auth()).result is not None
    assert post_rpc("httpx", bridge, "device.query", {}, basic=(EXTERNAL_USER, EXTERNAL_PASSWORD)).status == 200
    assert post_rpc("curl", bridge, "device.query", auth(password=EXTERNAL_PASSWORD.upper())).fault_code == 15
    assert password_hash not in bridge.log_text()


def test_without_an_external_password_the_service_starts_warns_once_and_refuses_everything(
    bridge_factory: BridgeFactory,
) -> None:
    bridge = bridge_factory(
        env_overrides={"ADHOC_EXTERNAL_SYSTEM__PASSWORD": None, "ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS": "true"}
    )
    warnings = [line for line in bridge.log_text().splitlines() if "no external-system password is configured" in line]
    assert len(warnings) == 1
    assert "hash-password" in warnings[0]
    for http in (False, True):
        assert post_rpc("xmlrpc", bridge, "device.query", auth(), http=http).fault_code == 15
        assert post_rpc("httpx", bridge, "device.query", auth(user="", password=""), http=http).fault_code == 15
        basic = post_rpc("curl", bridge, "device.query", {}, http=http, basic=(EXTERNAL_USER, ""))
        assert basic.status == 401
        assert post_rpc("httpx", bridge, "device.query", {}, http=http).status == 401


@pytest.fixture(scope="module")
def slow_hash_bridge(tmp_path_factory: pytest.TempPathFactory) -> Bridge:
    """A pbkdf2 hash with many rounds: one verification costs long enough to see the cache work."""
    from tests.support.bridge import start_bridge

    password_hash = pbkdf2_sha256.using(rounds=1_500_000).hash(SLOW_HASH_PASSWORD)
    return start_bridge(tmp_path_factory.mktemp("slow-hash"), env_overrides=_hash_env(password_hash))


def _timed(bridge: Bridge, password: str) -> tuple[float, int | None]:
    start = time.perf_counter()
    reply = post_rpc("httpx", bridge, "device.query", auth(password=password))
    return time.perf_counter() - start, reply.fault_code


def test_auth_cache_makes_repeat_calls_fast_and_still_refuses_a_wrong_password(slow_hash_bridge: Bridge) -> None:
    try:
        first, fault = _timed(slow_hash_bridge, SLOW_HASH_PASSWORD)
        assert fault is None
        repeats = [_timed(slow_hash_bridge, SLOW_HASH_PASSWORD) for _ in range(5)]
        assert all(fault is None for _, fault in repeats)
        fastest_repeat = min(elapsed for elapsed, _ in repeats)
        assert fastest_repeat < first / 4, (first, repeats)
        wrong, wrong_fault = _timed(slow_hash_bridge, SLOW_HASH_PASSWORD + "x")
        assert wrong_fault == 15
        assert wrong > fastest_repeat * 2  # a wrong password is verified, never served from the cache
        # ... and the right one still works afterwards.
        assert _timed(slow_hash_bridge, SLOW_HASH_PASSWORD)[1] is None
    finally:
        assert slow_hash_bridge.stop() == 0
