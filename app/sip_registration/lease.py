"""A database lease that makes exactly one worker, of every worker and instance on the database, the owner.

Taking or renewing is one conditional ``UPDATE ... WHERE owner = me OR expires_at < now``: the database
lets one writer win. Times are naive UTC from the process clock, so instances sharing a database need
synchronised clocks (NTP); the TTL leaves seconds of slack. An owner that cannot renew stops acting
``SAFETY_MARGIN`` seconds before its lease could be taken.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult

from app.conferences.clock import Clock, utc_clock
from app.sip_registration.models import LEASE_NAME, RegistrationLease
from app.storage.database import Database

DEFAULT_TTL_SECONDS = 15.0
SAFETY_MARGIN_SECONDS = 3.0
RELEASE_GRACE_SECONDS = 2.0
"""After a clean release nobody takes the lease for this long, so sibling workers that are shutting down
too do not pick it up (and register again) in the moment before their own stop."""


def new_owner_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(6)}"


class Lease:
    def __init__(
        self,
        database: Database,
        *,
        owner_id: str | None = None,
        ttl: float = DEFAULT_TTL_SECONDS,
        name: str = LEASE_NAME,
        clock: Clock = utc_clock,
    ) -> None:
        self.database = database
        self.owner_id = owner_id or new_owner_id()
        self.ttl = ttl
        self.name = name
        self.clock = clock

    async def holder(self) -> tuple[str | None, datetime] | None:
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(RegistrationLease.owner, RegistrationLease.expires_at).where(
                        RegistrationLease.name == self.name
                    )
                )
            ).one_or_none()
        return None if row is None else (row[0], row[1])

    async def acquire(self) -> bool:
        """Take or renew the lease; True while this process holds it for the next ``ttl`` seconds."""
        now = self.clock()
        current = await self.holder()
        if current is None:
            return False
        owner, expires_at = current
        if owner != self.owner_id and expires_at >= now:
            return False  # held by someone else: no write, so idle workers never contend for the write lock
        statement = (
            update(RegistrationLease)
            .where(
                RegistrationLease.name == self.name,
                or_(RegistrationLease.owner == self.owner_id, RegistrationLease.expires_at < now),
            )
            .values(owner=self.owner_id, expires_at=now + timedelta(seconds=self.ttl))
        )
        async with self.database.session() as session:
            result = await session.execute(statement)
        return isinstance(result, CursorResult) and result.rowcount == 1

    async def release(self, *, grace: float = RELEASE_GRACE_SECONDS) -> None:
        """Give the lease up (if held): free for anyone ``grace`` seconds from now."""
        statement = (
            update(RegistrationLease)
            .where(RegistrationLease.name == self.name, RegistrationLease.owner == self.owner_id)
            .values(owner=None, expires_at=self.clock() + timedelta(seconds=grace))
        )
        async with self.database.session() as session:
            await session.execute(statement)
