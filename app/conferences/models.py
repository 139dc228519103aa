"""Tables of the ``conferences`` migration branch.

``conference_state`` is a single row: the global revision counter, the live conference count (so the
limit check is O(1)) and the HMAC key that signs enumerateIDs for every worker and instance. Every write
transaction starts by updating that row, which serialises writers across processes and instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.storage.base import Base

STATE_ROW_ID = 1


class ConferenceState(Base):
    __tablename__ = "conference_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    conference_count: Mapped[int] = mapped_column(Integer, nullable=False)
    enumerate_key: Mapped[str] = mapped_column(String(64), nullable=False)


class Conference(Base):
    __tablename__ = "conference"
    __table_args__ = {"sqlite_autoincrement": True}  # uniqueIds are never reused

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(31), nullable=False, unique=True)
    numeric_id: Mapped[str | None] = mapped_column(String(31), nullable=True)
    guest_numeric_id: Mapped[str | None] = mapped_column(String(31), nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    start_time: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    duration_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    end_time: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    cleanup_timeout: Mapped[int] = mapped_column(Integer, nullable=False)
    empty_since: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    cleanup_due: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True, index=True)
    locked: Mapped[bool] = mapped_column(nullable=False)
    active_instance: Mapped[int] = mapped_column(Integer, nullable=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)


class NumericIdClaim(Base):
    """One row per numericId or guestNumericId in use: uniqueness across both columns, O(1) lookup."""

    __tablename__ = "conference_numeric_id"

    numeric_id: Mapped[str] = mapped_column(String(31), primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("conference.id", ondelete="CASCADE"), nullable=False, index=True
    )
    guest: Mapped[bool] = mapped_column(nullable=False)


class Participant(Base):
    __tablename__ = "conference_participant"
    __table_args__ = (
        UniqueConstraint("conference_id", "name", name="uq_conference_participant_conference_id_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(31), nullable=False)
    protocol: Mapped[str] = mapped_column(String(8), nullable=False)
    participant_type: Mapped[str] = mapped_column(String(16), nullable=False)
    address: Mapped[str] = mapped_column(String(63), nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    call_state: Mapped[str] = mapped_column(String(16), nullable=False)
    connect_time: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    disconnect_time: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    disconnect_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)


class DeadRecord(Base):
    """A recently deleted conference or participant, reported as ``dead`` to revision-based enumerations."""

    __tablename__ = "conference_dead_record"
    __table_args__ = (Index("ix_conference_dead_record_kind_item_id", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    item_id: Mapped[int] = mapped_column(Integer, nullable=False)
    identity: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)


@dataclass(slots=True)
class ConferenceRow:
    """A conference read with Core (the hot paths): the same attributes as ``Conference``, no ORM state."""

    id: int
    name: str
    numeric_id: str | None
    guest_numeric_id: str | None
    options: dict[str, Any]
    start_time: datetime
    duration_seconds: int
    end_time: datetime | None
    ended_at: datetime | None
    cleanup_timeout: int
    empty_since: datetime | None
    cleanup_due: datetime | None
    locked: bool
    active_instance: int
    revision: int


CONFERENCE_ROW_FIELDS: tuple[str, ...] = tuple(ConferenceRow.__slots__)
ConferenceData = Conference | ConferenceRow  # what the reply structs read
