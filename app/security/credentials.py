"""Checks one configured username/password pair, fast after the first success.

Every check costs one hash verification on a cache miss, whether or not the username matches, so an
unknown username takes as long as a wrong password. Successes are remembered under a keyed BLAKE2b MAC of
(username, password, stored hash) keyed with a per-process random key: no plaintext stays in memory
and a changed password or hash invalidates the cache by itself.

Concurrent checks of the same fingerprint share one in-flight verification (CUCM opens many connections
with the same credentials at once after a restart), and one process-wide gate lets a single
verification run at a time across every checker (argon2 holds its whole ``memory_cost`` while it runs),
handing turns out fairly across source addresses (``fair_queue.py``). With a ``Lockout``, a locked
source is refused before the cache or any hash, failures are counted and one success resets the source.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from typing import Final

import anyio

from app.core.config import CredentialPair
from app.security.fair_queue import FairGate
from app.security.lockout import Lockout
from app.security.passwords import hash_password, verify_password

logger = logging.getLogger(__name__)

_CACHE_SIZE: Final = 256
# argon2 holds memory_cost (up to 64 MiB for hashes made elsewhere) per verify: one at a time per process,
# shared by every CredentialChecker (admin and external_system), so peak RSS is idle + one verify.
_VERIFY_LIMITER_TOKENS: Final = 1
_VERIFY_LIMITER: Final = anyio.CapacityLimiter(_VERIFY_LIMITER_TOKENS)
_VERIFY_GATE: Final = FairGate()  # whose turn it is: fair across sources (the limiter bounds the thread)


class _Keep:
    """Marks an argument of ``CredentialChecker.replace`` left as it is."""


KEEP: Final = _Keep()


class CredentialChecker:
    """Verifies presented credentials against one configured pair."""

    def __init__(self, name: str, pair: CredentialPair, lockout: Lockout | None = None) -> None:
        self.name = name
        self._lockout = lockout
        self._username = pair.username.encode()
        self._hash: str | None
        if pair.password_hash is not None:
            self._hash = pair.password_hash.get_secret_value()
        elif pair.password is not None:
            self._hash = hash_password(pair.password.get_secret_value())
        else:
            self._hash = None
        self._cache_key = secrets.token_bytes(32)
        self._successes: OrderedDict[bytes, None] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Task[bool]] = {}
        self._generation = 0  # grows on replace(): a verification begun before it caches nothing

    @property
    def configured(self) -> bool:
        return self._hash is not None

    @property
    def in_flight(self) -> int:
        """Verifications running or queued for the limiter right now (one per distinct fingerprint)."""
        return len(self._in_flight)

    def _fingerprint(self, username: bytes, password: bytes, stored_hash: str) -> bytes:
        message = b"\0".join((username, password, stored_hash.encode()))
        # Keyed BLAKE2b is a MAC by design (RFC 7693); a quarter of the cost of HMAC-SHA256 here.
        return hashlib.blake2b(message, key=self._cache_key, digest_size=32).digest()

    def cached(self, username: str, password: str) -> bool:
        """True when this exact pair succeeded before (microseconds; no hashing)."""
        if self._hash is None:
            return False
        key = self._fingerprint(username.encode(), password.encode(), self._hash)
        if key in self._successes:
            self._successes.move_to_end(key)
            return True
        return False

    def retry_after(self, source: str) -> float | None:
        """Seconds until ``source`` may try again when it is locked out, else None."""
        return None if self._lockout is None else self._lockout.retry_after(source)

    async def check(self, username: str, password: str, source: str) -> bool:
        """True when the pair is right and ``source`` (the client's address) is not locked out."""
        stored = self._hash
        if stored is None:
            return False
        lockout = self._lockout
        if lockout is not None and lockout.retry_after(source) is not None:
            return False  # at once: no cache lookup, no hash
        user_bytes = username.encode()
        key = self._fingerprint(user_bytes, password.encode(), stored)
        if key in self._successes:
            self._successes.move_to_end(key)
            if lockout is not None:
                lockout.succeeded(source)
            return True
        flight = self._in_flight.get(key)
        if flight is None:
            flight = asyncio.create_task(
                self._verify(key, user_bytes, password, stored, source), name=f"verify {self.name}"
            )
            self._in_flight[key] = flight
            flight.add_done_callback(functools.partial(self._landed, key))
        # shield: a waiter that is cancelled (client gone) must not cancel the verification the others await.
        ok = await asyncio.shield(flight)
        if lockout is not None:
            if ok:
                lockout.succeeded(source)
            else:
                lockout.failed(source)
        return ok

    def _landed(self, key: bytes, flight: asyncio.Task[bool]) -> None:
        if self._in_flight.get(key) is flight:
            del self._in_flight[key]
        if not flight.cancelled():
            flight.exception()  # retrieved even if every waiter was cancelled: no "never retrieved" noise

    async def _verify(self, key: bytes, user_bytes: bytes, password: str, stored: str, source: str) -> bool:
        # One verification whatever the username: an unknown username costs as much as a wrong password.
        generation = self._generation
        user_ok = hmac.compare_digest(user_bytes, self._username)
        if _VERIFY_GATE.busy:
            logger.debug("password verification queued", extra={"checker": self.name, "source": source})
        async with _VERIFY_GATE.turn(source) as ahead:
            if self._lockout is not None and self._lockout.retry_after(source) is not None:
                return False  # locked while it waited: no hash
            logger.debug("password verification", extra={"checker": self.name, "source": source, "ahead": ahead})
            password_ok = await anyio.to_thread.run_sync(verify_password, password, stored, limiter=_VERIFY_LIMITER)
        if user_ok and password_ok and generation == self._generation:
            self._successes[key] = None
            if len(self._successes) > _CACHE_SIZE:
                self._successes.popitem(last=False)
            return True
        return False  # failures are never cached: each new wrong attempt is verified again

    def replace(self, *, username: str | None = None, password_hash: str | None | _Keep = KEEP) -> None:
        """Check against new values from now on (run-time settings); ``password_hash=None`` refuses everyone.

        Remembered successes are forgotten, and a verification still running caches nothing.
        """
        if username is not None:
            self._username = username.encode()
        if not isinstance(password_hash, _Keep):
            self._hash = password_hash
        self._generation += 1
        self._successes.clear()
        self._in_flight.clear()
