"""The owner lease on real SQLite and PostgreSQL: one winner, renewal, takeover after expiry, clean release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from app.sip_registration.lease import Lease
from app.storage.database import Database


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def databases(migrated_url: str) -> AsyncIterator[list[Database]]:
    """One engine per contender, as separate worker processes have."""
    engines = [Database(migrated_url) for _ in range(6)]
    yield engines
    for engine in engines:
        await engine.dispose()


async def test_exactly_one_of_many_concurrent_contenders_owns(databases: list[Database]) -> None:
    clock = FakeClock()
    leases = [Lease(db, owner_id=f"worker-{i}", clock=clock) for i, db in enumerate(databases)]
    won = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert won.count(True) == 1
    owner = leases[won.index(True)]
    holder = await owner.holder()
    assert holder is not None
    assert holder[0] == owner.owner_id
    clock.advance(10)  # within the 15 s TTL: the owner renews, nobody else gets it
    again = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert again == won


async def test_a_lease_not_renewed_is_taken_over_and_the_old_owner_cannot_renew(databases: list[Database]) -> None:
    clock = FakeClock()
    first = Lease(databases[0], owner_id="first", ttl=15, clock=clock)
    second = Lease(databases[1], owner_id="second", ttl=15, clock=clock)
    assert await first.acquire()
    clock.advance(14)
    assert not await second.acquire()
    clock.advance(2)  # first's lease ran out
    assert await second.acquire()
    assert not await first.acquire()
    holder = await first.holder()
    assert holder is not None
    assert holder[0] == "second"


async def test_release_frees_the_lease_after_the_grace_only(databases: list[Database]) -> None:
    clock = FakeClock()
    first = Lease(databases[0], owner_id="first", clock=clock)
    second = Lease(databases[1], owner_id="second", clock=clock)
    assert await first.acquire()
    await first.release(grace=2)
    assert not await second.acquire()  # siblings shutting down too do not grab it at once
    clock.advance(2.5)
    assert await second.acquire()
    await first.release()  # not the holder: no effect
    holder = await second.holder()
    assert holder is not None
    assert holder[0] == "second"
