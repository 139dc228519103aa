"""Tables of the ``sip_registration`` migration branch: the owner lease and each alias's last known status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base

LEASE_NAME = "registrar"


class RegistrationLease(Base):
    """One row per lease; ``owner`` may act until ``expires_at`` (naive UTC), then anyone may take it."""

    __tablename__ = "sip_registration_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False)


class RegistrationRecord(Base):
    """What the owner last saw for one alias; read by every worker for the status endpoint. No secrets."""

    __tablename__ = "sip_registration_status"

    alias: Mapped[str] = mapped_column(String(320), primary_key=True)
    numeric_id: Mapped[str] = mapped_column(String(64), nullable=False)
    conference_name: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    realm: Mapped[str | None] = mapped_column(String(250), nullable=True)
    algorithm: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)
