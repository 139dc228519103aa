"""The ``runtime_global_settings`` table (branch ``runtime_settings``): one row, NULL meaning "not set here"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base

ROW_ID = 1
USERNAME_MAX = 100
PASSWORD_MAX = 100


class RuntimeGlobalSettings(Base):
    """``revision`` grows on every change: workers poll it (one primary-key read a second) and reload on a change."""

    __tablename__ = "runtime_global_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    legacy_api_username: Mapped[str | None] = mapped_column(String(USERNAME_MAX), nullable=True)
    # argon2 hash (app/security/passwords.py); the password itself is never stored.
    legacy_api_password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    legacy_api_http: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
