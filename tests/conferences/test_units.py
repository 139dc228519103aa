"""The conference units of work in process, on SQLite and on PostgreSQL: faults, revisions, dead records.

Also the SQLite execution model: a unit runs on the event loop unless the database is locked, and then
waits in the writer thread without stalling the loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.conferences.errors import ConferenceError
from app.conferences.listing import enumerate_conferences, enumerate_participants
from app.conferences.schemas import (
    AddParticipantParams,
    ConferenceEnumerateParams,
    CreateConferenceParams,
    ParticipantEnumerateParams,
)
from app.conferences.service import ConferenceService
from app.conferences.views import conference_struct
from app.mcu.faults import mcu_fault
from app.storage.database import Database
from app.storage.migrate import upgrade
from app.xmlrpc.faults import McuFault
from tests.support.postgres import migrated_database_url

MAX_CONFERENCES = 5


class RecordingHook:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None]] = []

    async def on_conference_created(self, name: str, numeric_id: str | None, register_with_sip: bool) -> None:
        self.events.append(("created" if register_with_sip else "created-unregistered", name, numeric_id))

    async def on_conference_removed(self, name: str, numeric_id: str | None) -> None:
        self.events.append(("removed", name, numeric_id))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return migrated_database_url(request, tmp_path / "units.db")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def service_on(database: Database, hook: RecordingHook | None = None) -> ConferenceService:
    return ConferenceService(database, max_conferences=MAX_CONFERENCES, max_participants=3, hook=hook)


async def fault_of(awaitable: Any) -> int:
    """The MCU fault code the dialect answers for the domain error ``awaitable`` raises."""
    with pytest.raises((McuFault, ConferenceError)) as raised:
        await awaitable
    error = raised.value
    fault = mcu_fault(error) if isinstance(error, ConferenceError) else error
    assert isinstance(fault, McuFault)
    return int(fault.code)


async def revision_of(service: ConferenceService) -> int:
    return int((await enumerate_conferences(service, ConferenceEnumerateParams()))["currentRevision"])


async def test_create_status_destroy_and_their_faults(database: Database) -> None:
    hook = RecordingHook()
    service = service_on(database, hook)
    await service.create(
        CreateConferenceParams(conferenceName="a", numericId="100", guestNumericId="101", registerWithSIPRegistrar=True)
    )
    conference, now = await service.status("a")
    struct = conference_struct(conference, now)
    assert (struct["conferenceName"], struct["numericId"], struct["guestNumericId"]) == ("a", "100", "101")
    assert struct["conferenceActive"] is True
    assert struct["registerWithSIPRegistrar"] is True
    before = await revision_of(service)

    assert await fault_of(service.create(CreateConferenceParams(conferenceName="a"))) == 2
    assert await fault_of(service.create(CreateConferenceParams(conferenceName="b", numericId="101"))) == 18
    assert await fault_of(service.destroy("nobody")) == 4
    assert await fault_of(service.status("b")) == 4
    assert await revision_of(service) == before  # failed writes leave nothing behind, not even a revision

    lookup = await service.conference_for_numeric_id("101")
    assert lookup is not None
    assert (lookup.name, lookup.guest) == ("a", True)
    await service.destroy("a")
    assert await service.conference_for_numeric_id("100") is None
    await service.create(CreateConferenceParams(conferenceName="b", numericId="101"))  # the IDs are free again
    assert hook.events == [("created", "a", "100"), ("removed", "a", "100"), ("created-unregistered", "b", "101")]


async def test_conference_limit_counts_only_live_conferences(database: Database) -> None:
    service = service_on(database)
    for index in range(MAX_CONFERENCES):
        await service.create(CreateConferenceParams(conferenceName=f"c{index}"))
    assert await fault_of(service.create(CreateConferenceParams(conferenceName="extra"))) == 6
    assert await fault_of(service.create(CreateConferenceParams(conferenceName="c0"))) == 6
    await service.destroy("c0")
    await service.create(CreateConferenceParams(conferenceName="extra"))


async def test_enumeration_reports_changes_and_the_dead(database: Database) -> None:
    service = service_on(database)
    empty = await enumerate_conferences(service, ConferenceEnumerateParams())
    assert "conferences" not in empty
    assert isinstance(empty["currentRevision"], int)
    for name in ("keep", "gone", "changed"):
        await service.create(CreateConferenceParams(conferenceName=name))
    await service.add_participant(
        AddParticipantParams(conferenceName="gone", participantName="p", address="sip:p@x", participantProtocol="sip")
    )
    since = await revision_of(service)
    await service.destroy("gone")
    await service.end("changed")

    page = await enumerate_conferences(service, ConferenceEnumerateParams(lastRevision=since))
    assert page["currentRevision"] == since + 2
    by_name = {record["conferenceName"]: record for record in page["conferences"]}
    assert set(by_name) == {"gone", "changed"}
    assert by_name["gone"].get("dead") is True
    assert by_name["changed"]["conferenceActive"] is False

    participants = await enumerate_participants(service, ParticipantEnumerateParams(lastRevision=since))
    assert [(p["participantName"], p.get("dead")) for p in participants["participants"]] == [("p", True)]

    listed = await enumerate_conferences(service, ConferenceEnumerateParams(lastRevision=since, listAll=True))
    unchanged = {r["conferenceName"]: r.get("changed", True) for r in listed["conferences"]}
    assert unchanged == {"keep": False, "changed": True}


async def test_pages_continue_after_the_last_id(database: Database) -> None:
    service = service_on(database)
    for index in range(MAX_CONFERENCES):
        await service.create(CreateConferenceParams(conferenceName=f"c{index}"))
    first = await enumerate_conferences(service, ConferenceEnumerateParams())
    assert [c["conferenceName"] for c in first["conferences"]] == ["c0", "c1", "c2", "c3"]
    await service.destroy("c0")
    rest = await enumerate_conferences(service, ConferenceEnumerateParams(enumerateID=first["enumerateID"]))
    assert [c["conferenceName"] for c in rest["conferences"]] == ["c4"]
    assert "enumerateID" not in rest


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "locked.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.mark.parametrize("holder", ["sqlite", "writer-lock"])
async def test_a_locked_sqlite_database_is_waited_for_off_the_event_loop(sqlite_path: Path, holder: str) -> None:
    """Another writer holds SQLite's lock (a writer of any kind) or the service's writer lock (another worker)."""
    path = sqlite_path
    database = Database(f"sqlite+aiosqlite:///{path}")
    service = service_on(database)
    try:
        await service.create(CreateConferenceParams(conferenceName="before"))
        release = hold_sqlite_lock(path) if holder == "sqlite" else hold_writer_lock(path)
        created = asyncio.create_task(service.create(CreateConferenceParams(conferenceName="during")))
        ticks = 0
        for _ in range(10):  # the loop keeps running while the create waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10
        assert not created.done()
        status, _now = await service.status("before")  # reads do not wait for the writer
        assert status.name == "before"
        release()
        await asyncio.wait_for(created, timeout=5)
        assert (await service.status("during"))[0].name == "during"
    finally:
        await database.dispose()


def hold_sqlite_lock(path: Path) -> Callable[[], None]:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        other.execute("COMMIT")
        other.close()

    return release


def hold_writer_lock(path: Path) -> Callable[[], None]:
    descriptor = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return lambda: os.close(descriptor)


async def test_concurrent_writes_fail_alone(database: Database) -> None:
    """Writes issued together (one group commit on SQLite): each fault undoes only its own unit."""
    service = service_on(database)
    before = await revision_of(service)
    outcomes = await asyncio.gather(
        service.create(CreateConferenceParams(conferenceName="same", numericId="500")),
        service.create(CreateConferenceParams(conferenceName="same", numericId="501")),
        service.create(CreateConferenceParams(conferenceName="other", numericId="500")),
        service.create(CreateConferenceParams(conferenceName="third", numericId="502")),
        service.destroy("missing"),
        return_exceptions=True,
    )
    faults = [int(mcu_fault(o).code) if isinstance(o, ConferenceError) else o for o in outcomes]
    if database.is_sqlite:  # one batch, run in arrival order
        assert faults == [None, 2, 18, None, 4]
    assert faults[3:] == [None, 4]
    assert faults[:2].count(None) == 1  # one of the two "same" wins, whichever ran first
    assert set(faults[:3]) <= {None, 2, 18}
    assert await revision_of(service) == before + faults.count(None)
    winner = "500" if faults[0] is None else "501"
    assert (await service.status("same"))[0].numeric_id == winner
    listed = await enumerate_conferences(service, ConferenceEnumerateParams())
    expected = ["same", "third"] + (["other"] if faults[2] is None else [])
    assert sorted(c["conferenceName"] for c in listed["conferences"]) == sorted(expected)


async def test_the_wal_is_checkpointed_off_the_event_loop(sqlite_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    service = service_on(database)
    wal = sqlite_path.with_name(sqlite_path.name + "-wal")
    try:
        for index in range(600):
            await service.create(CreateConferenceParams(conferenceName=f"c{index}"))
            await service.destroy(f"c{index}")
            await asyncio.sleep(0)  # lets a finished checkpoint be seen
        assert wal.stat().st_size < 8 * 1024 * 1024  # 1,200 commits would be ~40 MB unchecked
    finally:
        await database.dispose()
