"""Memory follows the live conferences: the owner's registration manager forgets each alias once it is
un-registered at the real registrar (Kamailio) and its final status is saved (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from app.conferences.schemas import CreateConferenceParams
from app.conferences.service import ConferenceService
from app.sip.registration import RegistrationManager, RegistrationState
from app.sip.settings import SipSettings
from app.sip_registration.hook import RegistrationHook
from app.sip_registration.reconciler import RegistrationCoordinator
from app.sip_registration.status_store import AliasStatus
from app.storage.database import Database
from tests.sip.conftest import HOST, static_lookup
from tests.sip_registration.conftest import REALM, SIP_PASSWORD, SIP_USER, Registrar

ROUNDS = 2
PER_ROUND = 12


def alias(number: str) -> str:
    return f"sip:{number}@127.0.0.1"


async def until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Owner:
    coordinator: RegistrationCoordinator
    conferences: ConferenceService
    managers: list[RegistrationManager]

    @property
    def manager(self) -> RegistrationManager:
        assert len(self.managers) == 1, "the coordinator took over more than once"
        return self.managers[0]

    async def rows(self) -> dict[str, AliasStatus]:
        _, rows = await self.coordinator.store.page(limit=1000, offset=0)
        return {row.alias: row for row in rows}


@pytest.fixture
async def owner(migrated_url: str, registrar: Registrar) -> AsyncIterator[Owner]:
    database = Database(migrated_url)
    settings = SipSettings.model_validate({"registrar": registrar.uri, "local_host": HOST, "local_port": 0})
    lookup = static_lookup({REALM: (SIP_USER, SIP_PASSWORD)})
    managers: list[RegistrationManager] = []

    def make_manager() -> RegistrationManager:
        managers.append(RegistrationManager(settings, lookup, unregister_timeout=3.0))
        return managers[-1]

    coordinator = RegistrationCoordinator(database, settings, lookup, manager_factory=make_manager, tick=0.05)
    conferences = ConferenceService(
        database, max_conferences=1000, max_participants=10, hook=RegistrationHook(coordinator)
    )
    coordinator.start()
    try:
        yield Owner(coordinator, conferences, managers)
    finally:
        await coordinator.stop()
        await database.dispose()


async def create_and_destroy(owner: Owner, registrar: Registrar, label: str, numbers: list[str]) -> None:
    for number in numbers:
        params = CreateConferenceParams(
            conferenceName=f"mem-{label}-{number}", numericId=number, registerWithSIPRegistrar=True
        )
        await owner.conferences.create(params)

    async def all_registered() -> bool:
        rows = await owner.rows()
        return all(rows.get(alias(n)) is not None and rows[alias(n)].state == "registered" for n in numbers)

    await until(f"{label} registered", all_registered)
    manager = owner.manager
    assert manager.aliases() == sorted(alias(n) for n in numbers)
    assert set(numbers) <= registrar.bindings().keys()
    assert all(manager.forget(n) is False for n in numbers)  # still wanted: refused, nothing dropped
    assert len(manager.aliases()) == len(numbers)

    for number in numbers:
        await owner.conferences.destroy(f"mem-{label}-{number}")

    async def all_forgotten() -> bool:
        return not manager.aliases()

    await until(f"{label} forgotten", all_forgotten)
    rows = await owner.rows()
    assert {rows[alias(n)].state for n in numbers} == {"unregistered"}  # saved before being forgotten
    assert all(rows[alias(n)].last_error is None for n in numbers)
    assert not set(numbers) & registrar.bindings().keys()  # un-REGISTERed, not just dropped
    assert all(registrar.count("REGISTER-OK", alias(n), expires="0") >= 1 for n in numbers)
    assert manager.snapshot() == []
    assert all(manager.status(n) is None for n in numbers)


async def test_destroyed_conferences_leave_no_state_in_the_registration_manager(
    owner: Owner, registrar: Registrar
) -> None:
    for round_ in range(ROUNDS):
        # each round reuses half of the previous round's numericIds: a forgotten alias registers afresh
        numbers = [str(8100 + round_ * PER_ROUND // 2 + i) for i in range(PER_ROUND)]
        await create_and_destroy(owner, registrar, f"round{round_}", numbers)
    assert owner.coordinator.is_owner
    assert len(owner.managers) == 1  # one manager throughout: memory was freed, not reset by a takeover


async def test_forget_keeps_an_alias_whose_un_register_has_not_finished(owner: Owner) -> None:
    await owner.conferences.create(
        CreateConferenceParams(conferenceName="mem-pending", numericId="8190", registerWithSIPRegistrar=True)
    )

    async def registered() -> bool:
        return (
            bool(owner.managers)
            and (status := owner.manager.status("8190")) is not None
            and (status.state is RegistrationState.REGISTERED)
        )

    await until("8190 registered", registered)
    manager = owner.manager
    manager.unregister("8190")  # wakes the worker; the un-REGISTER is not sent yet
    assert manager.forget("8190") is False
    assert manager.aliases() == [alias("8190")]
    await manager.wait_for("8190", RegistrationState.UNREGISTERED)
    assert manager.forget("8190") is True
    assert manager.aliases() == []
    assert manager.forget("8190") is True  # nothing held: forgetting again is a no-op
    await owner.conferences.destroy("mem-pending")


async def test_stop_right_after_a_removal_pokes_the_coordinator_returns(owner: Owner, registrar: Registrar) -> None:
    """The poke and the cancel land together: the tick's wait must still end (asyncio.wait_for on 3.11 did not)."""
    await owner.conferences.create(
        CreateConferenceParams(conferenceName="mem-stop", numericId="8191", registerWithSIPRegistrar=True)
    )

    async def registered() -> bool:
        return "8191" in registrar.bindings()

    await until("8191 registered", registered)
    await owner.conferences.destroy("mem-stop")  # pokes the coordinator's tick
    stopping = asyncio.create_task(owner.coordinator.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)  # a bound on a hang, not a performance check
    assert stopping in done, "stop() never returned: the tick's wait swallowed the cancel"
    await stopping
    assert not owner.coordinator.is_owner
    assert "8191" not in registrar.bindings()  # a clean stop un-registers what is left
