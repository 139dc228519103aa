"""Reads and writes of ``sip_registration_status``: the owner writes, any worker reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from app.sip_registration.models import RegistrationRecord
from app.storage.database import Database


@dataclass(frozen=True, slots=True)
class AliasStatus:
    """One alias as the status endpoint shows it; datetimes are naive UTC, like every stored time."""

    alias: str
    numeric_id: str
    conference_name: str
    state: str
    realm: str | None
    algorithm: str | None
    expires_at: datetime | None
    last_status: int | None
    last_error: str | None
    updated_at: datetime


def _fit(value: str, column: InstrumentedAttribute[Any]) -> str:
    """Cut to the column's length: a hostile registrar's huge realm must not make the row unwritable."""
    length: int = column.type.length
    return value[:length]


def _fit_optional(value: str | None, column: InstrumentedAttribute[Any]) -> str | None:
    return None if value is None else _fit(value, column)


def _record(status: AliasStatus) -> RegistrationRecord:
    return RegistrationRecord(
        alias=_fit(status.alias, RegistrationRecord.alias),
        numeric_id=_fit(status.numeric_id, RegistrationRecord.numeric_id),
        conference_name=_fit(status.conference_name, RegistrationRecord.conference_name),
        state=status.state,
        realm=_fit_optional(status.realm, RegistrationRecord.realm),
        algorithm=_fit_optional(status.algorithm, RegistrationRecord.algorithm),
        expires_at=status.expires_at,
        last_status=status.last_status,
        last_error=_fit_optional(status.last_error, RegistrationRecord.last_error),
        updated_at=status.updated_at,
    )


def _status(row: RegistrationRecord) -> AliasStatus:
    return AliasStatus(
        alias=row.alias,
        numeric_id=row.numeric_id,
        conference_name=row.conference_name,
        state=row.state,
        realm=row.realm,
        algorithm=row.algorithm,
        expires_at=row.expires_at,
        last_status=row.last_status,
        last_error=row.last_error,
        updated_at=row.updated_at,
    )


class StatusStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def save(self, statuses: Iterable[AliasStatus]) -> None:
        """Insert or replace each alias's row (one transaction)."""
        async with self.database.session() as session:
            for status in statuses:
                await session.merge(_record(status))

    async def page(self, *, limit: int, offset: int) -> tuple[int, list[AliasStatus]]:
        async with self.database.session() as session:
            total = int((await session.execute(select(func.count()).select_from(RegistrationRecord))).scalar_one())
            statement = select(RegistrationRecord).order_by(RegistrationRecord.alias).limit(limit).offset(offset)
            rows = (await session.execute(statement)).scalars().all()
            return total, [_status(row) for row in rows]

    async def active_aliases(self) -> Sequence[str]:
        """Aliases whose last known state is not ``unregistered``."""
        statement = select(RegistrationRecord.alias).where(RegistrationRecord.state != "unregistered")
        async with self.database.session() as session:
            return (await session.execute(statement)).scalars().all()

    async def mark_abandoned(self, aliases: Iterable[str], now: datetime, reason: str) -> None:
        """A previous owner left these behind; nobody refreshes them any more."""
        wanted = list(aliases)
        if not wanted:
            return
        statement = (
            update(RegistrationRecord)
            .where(RegistrationRecord.alias.in_(wanted), RegistrationRecord.state != "unregistered")
            .values(state="unregistered", expires_at=None, last_error=reason, updated_at=now)
        )
        async with self.database.session() as session:
            await session.execute(statement)

    async def purge_unregistered(self, before: datetime) -> None:
        statement = delete(RegistrationRecord).where(
            RegistrationRecord.state == "unregistered", RegistrationRecord.updated_at < before
        )
        async with self.database.session() as session:
            await session.execute(statement)
