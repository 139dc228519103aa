"""Console sessions: created at sign-in, checked on every page, ended by sign-out or expiry.

The cookie ``__Host-adhoc_console`` (``Secure``, ``HttpOnly``, ``SameSite=Strict``, ``Path=/``) holds a
random 256-bit token; the database keeps only its SHA-256, so neither a database dump nor a log can be
replayed as a session, and every worker and instance sharing the database knows every session. A session
ends 8 hours after sign-in, or after 30 minutes without a request, or at sign-out (its row is deleted), or
when the admin credentials it signed in with change (a restart with a new ``admin.*``).
Each session has its own CSRF token, which every form of the console carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select, update

from app.console.models import ConsoleSession
from app.storage.database import Database

COOKIE: Final = "__Host-adhoc_console"
SIGNIN_COOKIE: Final = "__Host-adhoc_console_signin"  # double-submit CSRF token of the sign-in form
LIFETIME: Final = timedelta(hours=8)
IDLE: Final = timedelta(minutes=30)
_TOUCH_EVERY: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Session:
    username: str
    csrf_token: str
    token_hash: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tag(token: str, credentials: bytes) -> str:
    return hmac.new(token.encode(), credentials, hashlib.sha256).hexdigest()


def same_token(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


class SessionStore:
    def __init__(self, database: Database, credentials: bytes) -> None:
        """``credentials``: the configured admin username and password (hash) as bytes, never stored as such."""
        self.database = database
        self._credentials = credentials

    async def create(self, username: str, peer: str) -> str:
        """A new session; returns the cookie value (shown to nobody else, stored only hashed)."""
        token = secrets.token_urlsafe(32)
        now = _now()
        async with self.database.session() as session:
            await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            session.add(
                ConsoleSession(
                    token_hash=_hash(token),
                    username=username,
                    csrf_token=secrets.token_urlsafe(32),
                    credential_tag=_tag(token, self._credentials),
                    peer=peer[:100],
                    created_at=now,
                    last_seen=now,
                    expires_at=now + LIFETIME,
                )
            )
        return token

    async def find(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        now = _now()
        token_hash = _hash(token)
        async with self.database.session() as session:
            row = (
                await session.execute(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash))
            ).scalar_one_or_none()
            if row is None:
                return None
            stale = not hmac.compare_digest(row.credential_tag, _tag(token, self._credentials))
            if stale or row.expires_at <= now or row.last_seen + IDLE <= now:
                await session.delete(row)
                return None
            found = Session(row.username, row.csrf_token, row.token_hash)
            if now - row.last_seen >= _TOUCH_EVERY:
                await session.execute(
                    update(ConsoleSession).where(ConsoleSession.token_hash == token_hash).values(last_seen=now)
                )
        return found

    async def end(self, found: Session) -> None:
        async with self.database.session() as session:
            await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == found.token_hash))
