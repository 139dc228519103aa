"""Password hashes (argon2 by default; bcrypt and pbkdf2_sha256 accepted) through libpass's ``passlib`` API."""

from __future__ import annotations

import logging

from passlib.context import CryptContext

logger = logging.getLogger(__name__)

SCHEMES = ("argon2", "bcrypt", "pbkdf2_sha256")

_context = CryptContext(schemes=list(SCHEMES), default="argon2")


def hash_password(password: str) -> str:
    """Hash a password with the default scheme (argon2id)."""
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
