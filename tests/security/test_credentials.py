"""External-system passwords as configured hashes, the never-open default, the success cache, and
verifications in flight: shared by concurrent identical checks, one at a time per process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from passlib.hash import argon2, bcrypt, pbkdf2_sha256
from pydantic import SecretStr

from app.core.config import CredentialPair
from app.security import credentials
from app.security.credentials import CredentialChecker
from app.security.passwords import verify_password
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


# -- verifications in flight (in process, a counting verify in place of the real one) ------------------

USER = "cucm"
PASSWORD = "In-flight-pw 7b2a"
OTHER_USER = "admin"
OTHER_PASSWORD = "In-flight-admin 41c9"
SOURCE = "127.0.0.1"
KNOWN_SECRETS.update({PASSWORD, OTHER_PASSWORD})
CONCURRENT = 16


def _checker(name: str, user: str, password: str) -> CredentialChecker:
    cheap_hash = pbkdf2_sha256.using(rounds=1000).hash(password)  # the real verify, minus the cost
    return CredentialChecker(name, CredentialPair(username=user, password_hash=SecretStr(cheap_hash)))


@dataclass
class CountingVerify:
    """Stands in for ``verify_password``: counts calls, records overlap, can be held until released."""

    gate: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    calls: int = 0
    running: int = 0
    most_at_once: int = 0
    fail_with: Exception | None = None
    hold: Callable[[], None] = lambda: None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, password: str, password_hash: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        try:
            assert self.gate.wait(timeout=10), "the test never released the verification"
            self.hold()
            if self.fail_with is not None:
                raise self.fail_with
            return verify_password(password, password_hash)
        finally:
            with self.lock:
                self.running -= 1

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10), "no verification started"


@pytest.fixture
def fake_verify(monkeypatch: pytest.MonkeyPatch) -> CountingVerify:
    fake = CountingVerify()
    monkeypatch.setattr(credentials, "verify_password", fake)
    return fake


def _checks(checker: CredentialChecker, user: str, password: str, n: int = CONCURRENT) -> list[asyncio.Task[bool]]:
    return [asyncio.create_task(checker.check(user, password, SOURCE)) for _ in range(n)]


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [(USER, PASSWORD, True), (USER, PASSWORD + "x", False), (USER + "x", PASSWORD, False)],
    ids=["right pair", "wrong password", "wrong username"],
)
async def test_concurrent_identical_checks_share_one_verification(
    fake_verify: CountingVerify, user: str, password: str, expected: bool
) -> None:
    checker = _checker("external_system", USER, PASSWORD)
    waiters = _checks(checker, user, password)
    await fake_verify.wait_started()  # every waiter was scheduled before the verification started
    assert checker.in_flight == 1
    assert not any(waiter.done() for waiter in waiters)
    fake_verify.gate.set()
    assert await asyncio.gather(*waiters) == [expected] * CONCURRENT
    assert fake_verify.calls == 1  # a wrong username is verified too: it costs what a wrong password costs
    assert checker.in_flight == 0
    assert checker.cached(user, password) is expected


async def test_successes_are_cached_and_failures_verified_again(fake_verify: CountingVerify) -> None:
    fake_verify.gate.set()
    checker = _checker("external_system", USER, PASSWORD)
    assert await checker.check(USER, PASSWORD, SOURCE)
    assert await checker.check(USER, PASSWORD, SOURCE)
    assert fake_verify.calls == 1
    assert not await checker.check(USER, "guess", SOURCE)
    assert not await checker.check(USER, "guess", SOURCE)
    assert fake_verify.calls == 3


async def test_a_cancelled_waiter_leaves_the_verification_to_the_others(fake_verify: CountingVerify) -> None:
    checker = _checker("external_system", USER, PASSWORD)
    waiters = _checks(checker, USER, PASSWORD)
    await fake_verify.wait_started()
    quitter = waiters.pop(0)
    quitter.cancel()  # the client hung up
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert checker.in_flight == 1
    fake_verify.gate.set()
    assert await asyncio.gather(*waiters) == [True] * (CONCURRENT - 1)
    assert fake_verify.calls == 1
    assert checker.in_flight == 0
    assert checker.cached(USER, PASSWORD)


async def test_every_waiter_cancelled_still_finishes_and_caches_the_verification(fake_verify: CountingVerify) -> None:
    checker = _checker("external_system", USER, PASSWORD)
    waiters = _checks(checker, USER, PASSWORD, n=3)
    await fake_verify.wait_started()
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    fake_verify.gate.set()
    while checker.in_flight:
        await asyncio.sleep(0.01)
    assert checker.cached(USER, PASSWORD)
    assert await checker.check(USER, PASSWORD, SOURCE)
    assert fake_verify.calls == 1


async def test_a_verification_that_raises_reaches_every_waiter_and_leaves_nothing_behind(
    fake_verify: CountingVerify,
) -> None:
    checker = _checker("external_system", USER, PASSWORD)
    fake_verify.fail_with = RuntimeError("thread pool gone")
    waiters = _checks(checker, USER, PASSWORD, n=4)
    await fake_verify.wait_started()
    fake_verify.gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RuntimeError] * 4
    assert checker.in_flight == 0
    assert not checker.cached(USER, PASSWORD)
    fake_verify.fail_with = None
    assert await checker.check(USER, PASSWORD, SOURCE)  # a fresh verification, not the failed one
    assert fake_verify.calls == 2


async def test_verifications_of_all_checkers_run_one_at_a_time(fake_verify: CountingVerify) -> None:
    external = _checker("external_system", USER, PASSWORD)
    admin = _checker("admin", OTHER_USER, OTHER_PASSWORD)
    fake_verify.hold = lambda: time.sleep(0.005)  # long enough for a second thread to overlap, were it allowed
    fake_verify.gate.set()
    attempts = [
        (external, USER, PASSWORD),
        (admin, OTHER_USER, OTHER_PASSWORD),
        *((external, USER, f"wrong-{i}") for i in range(6)),
        *((admin, OTHER_USER, f"wrong-{i}") for i in range(6)),
    ]
    results = await asyncio.gather(
        *(checker.check(user, password, SOURCE) for checker, user, password in attempts for _ in range(3))
    )
    assert results == [True] * 6 + [False] * 36
    assert fake_verify.calls == len(attempts)  # one per distinct fingerprint
    assert fake_verify.most_at_once == 1
