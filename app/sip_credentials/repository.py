"""Queries on ``sip_credential``. Realms are matched with ``=`` only: a binary comparison, never LIKE or lower()."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.sip_credentials.crypto import Sealed
from app.sip_credentials.models import SipCredential


async def get(session: AsyncSession, credential_id: int) -> SipCredential | None:
    return await session.get(SipCredential, credential_id)


async def by_realm(session: AsyncSession, realm: str) -> SipCredential | None:
    result = await session.execute(select(SipCredential).where(SipCredential.realm == realm))
    return result.scalar_one_or_none()


async def realm_taken(session: AsyncSession, realm: str, *, except_id: int | None = None) -> bool:
    query = select(SipCredential.id).where(SipCredential.realm == realm)
    if except_id is not None:
        query = query.where(SipCredential.id != except_id)
    return (await session.execute(query.limit(1))).first() is not None


async def page(
    session: AsyncSession, *, realm: str | None, limit: int, offset: int
) -> tuple[int, Sequence[SipCredential]]:
    count = select(func.count()).select_from(SipCredential)
    rows = select(SipCredential).order_by(SipCredential.id).limit(limit).offset(offset)
    if realm is not None:
        count = count.where(SipCredential.realm == realm)
        rows = rows.where(SipCredential.realm == realm)
    total = int((await session.execute(count)).scalar_one())
    return total, (await session.execute(rows)).scalars().all()


async def not_sealed_under(session: AsyncSession, key_id: str, *, after_id: int, batch: int) -> Sequence[SipCredential]:
    query = (
        select(SipCredential)
        .where(SipCredential.key_id != key_id, SipCredential.id > after_id)
        .order_by(SipCredential.id)
        .limit(batch)
    )
    return (await session.execute(query)).scalars().all()


async def replace_sealed_if_unchanged(session: AsyncSession, row: SipCredential, sealed: Sealed) -> bool:
    """Re-seal one row unless someone changed it since it was read (optimistic; no lock held while reading)."""
    statement = (
        update(SipCredential)
        .where(
            SipCredential.id == row.id,
            SipCredential.realm == row.realm,
            SipCredential.username == row.username,
            SipCredential.key_id == row.key_id,
            SipCredential.password_sealed == row.password_sealed,
        )
        .values(key_id=sealed.key_id, password_sealed=sealed.blob)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
