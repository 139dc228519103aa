"""Checks one configured username/password pair, fast after the first success.

Every check costs one hash verification on a cache miss, whether or not the username matches, so an
unknown username takes as long as a wrong password. Successes are remembered under an HMAC of
(username, password, stored hash) keyed with a per-process random key: no plaintext stays in memory
and a changed password or hash invalidates the cache by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from typing import Final

import anyio

from app.core.config import CredentialPair
from app.security.passwords import hash_password, verify_password

logger = logging.getLogger(__name__)

_CACHE_SIZE: Final = 256
# argon2 holds 64 MiB per verify: cap how many run at once per process.
_VERIFY_LIMITER_TOKENS: Final = 2


class CredentialChecker:
    """Verifies presented credentials against one configured pair."""

    def __init__(self, name: str, pair: CredentialPair) -> None:
        self.name = name
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
        self._limiter = anyio.CapacityLimiter(_VERIFY_LIMITER_TOKENS)

    @property
    def configured(self) -> bool:
        return self._hash is not None

    def _fingerprint(self, username: bytes, password: bytes, stored_hash: str) -> bytes:
        message = b"\0".join((username, password, stored_hash.encode()))
        return hmac.new(self._cache_key, message, hashlib.sha256).digest()

    def cached(self, username: str, password: str) -> bool:
        """True when this exact pair succeeded before (microseconds; no hashing)."""
        if self._hash is None:
            return False
        key = self._fingerprint(username.encode(), password.encode(), self._hash)
        if key in self._successes:
            self._successes.move_to_end(key)
            return True
        return False

    async def check(self, username: str, password: str) -> bool:
        stored = self._hash
        if stored is None:
            return False
        user_bytes, password_bytes = username.encode(), password.encode()
        key = self._fingerprint(user_bytes, password_bytes, stored)
        if key in self._successes:
            self._successes.move_to_end(key)
            return True
        user_ok = hmac.compare_digest(user_bytes, self._username)
        password_ok = await anyio.to_thread.run_sync(verify_password, password, stored, limiter=self._limiter)
        if user_ok and password_ok:
            self._successes[key] = None
            if len(self._successes) > _CACHE_SIZE:
                self._successes.popitem(last=False)
            return True
        return False
