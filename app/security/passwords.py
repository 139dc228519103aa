"""Password hashes (argon2 by default; bcrypt and pbkdf2_sha256 accepted) through libpass's ``passlib`` API."""

from __future__ import annotations

import logging

from passlib.context import CryptContext

logger = logging.getLogger(__name__)

SCHEMES = ("argon2", "bcrypt", "pbkdf2_sha256")

# New hashes: argon2id m=19456 KiB, t=2, p=1, the OWASP Password Storage Cheat Sheet profile, instead of
# libpass's m=65536 KiB, t=3, p=4: each verify holds memory_cost for its duration, and the bridge verifies
# on cache misses while serving. Hashes made with other parameters still verify (they carry their own).
ARGON2_MEMORY_COST_KIB = 19456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

_context = CryptContext(
    schemes=list(SCHEMES),
    default="argon2",
    argon2__type="ID",
    argon2__memory_cost=ARGON2_MEMORY_COST_KIB,
    argon2__rounds=ARGON2_TIME_COST,
    argon2__parallelism=ARGON2_PARALLELISM,
)


def hash_password(password: str) -> str:
    """Hash a password with the default scheme (argon2id, OWASP parameters above)."""
    return str(_context.hash(password))


def is_supported_hash(candidate: str) -> bool:
    try:
        return _context.identify(candidate) is not None
    except ValueError:
        return False


def verify_password(password: str, password_hash: str) -> bool:
    """Constant-time verification; CPU bound (~100 ms for argon2): call it off the event loop."""
    try:
        return bool(_context.verify(password, password_hash))
    except (ValueError, TypeError):
        # bcrypt refuses passwords over 72 bytes; a malformed stored hash also lands here.
        return False
    except Exception as exc:  # a missing hash backend must refuse, not crash the request
        logger.error("password hash verification failed", extra={"error_type": type(exc).__name__})
        return False
