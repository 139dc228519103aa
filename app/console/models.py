"""The ``console_session`` table (branch ``console``): signed-in browser sessions, shared by every worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base


class ConsoleSession(Base):
    """One row per session. The cookie holds a 256-bit random token; only its SHA-256 is stored."""

    __tablename__ = "console_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    # HMAC, keyed with the cookie's token, of the admin credentials the session signed in with: a changed admin
    # username or password ends every session, and without the cookie the column reveals nothing.
    credential_tag: Mapped[str] = mapped_column(String(64), nullable=False)
    peer: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)
