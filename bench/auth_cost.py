"""The external-system credential check timed in-process: a cache miss (argon2 verify) and a cache hit."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from pydantic import SecretStr

from app.core.config import CredentialPair
from app.security.credentials import CredentialChecker

HIT_ROUNDS = 20_000
MISS_ROUNDS = 5


@dataclass(frozen=True)
class AuthCost:
    hit_us: float
    miss_ms: float


async def _measure(user: str, password: str, password_hash: str) -> AuthCost:
    pair = CredentialPair(username=user, password_hash=SecretStr(password_hash))
    misses: list[float] = []
    for _ in range(MISS_ROUNDS):
        fresh = CredentialChecker("external_system", pair)  # empty success cache: the first check verifies
        began = time.perf_counter()
        assert await fresh.check(user, password, "127.0.0.1")
        misses.append(time.perf_counter() - began)
    checker = CredentialChecker("external_system", pair)
    assert await checker.check(user, password, "127.0.0.1")
    began = time.perf_counter()
    for _ in range(HIT_ROUNDS):
        await checker.check(user, password, "127.0.0.1")
    hit = (time.perf_counter() - began) / HIT_ROUNDS
    return AuthCost(hit_us=hit * 1e6, miss_ms=statistics.median(misses) * 1e3)


def measure_auth(user: str, password: str, password_hash: str) -> AuthCost:
    return asyncio.run(_measure(user, password, password_hash))
