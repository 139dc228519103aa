"""The conference service's hook wakes the registration coordinator only when there is a registrar to tell."""

from __future__ import annotations

from app.sip.settings import SipSettings
from app.sip_registration.hook import RegistrationHook
from app.sip_registration.reconciler import RegistrationCoordinator
from app.storage.database import Database
from tests.sip.conftest import HOST, static_lookup


async def _woken(migrated_url: str, registrar: str | None) -> list[bool]:
    database = Database(migrated_url)
    try:
        settings = SipSettings.model_validate({"registrar": registrar, "local_host": HOST, "local_port": 0})
        coordinator = RegistrationCoordinator(database, settings, static_lookup({}))
        hook = RegistrationHook(coordinator)
        woken = []
        for change in (
            hook.on_conference_created("a", "8001", True),
            hook.on_conference_removed("a", "8001"),
        ):
            await change
            woken.append(coordinator._wake.is_set())
            coordinator._wake.clear()
        return woken
    finally:
        await database.dispose()


async def test_without_a_registrar_conference_changes_do_not_wake_the_coordinator(migrated_url: str) -> None:
    assert await _woken(migrated_url, None) == [False, False]


async def test_with_a_registrar_each_change_wakes_it(migrated_url: str) -> None:
    assert await _woken(migrated_url, "sip:127.0.0.1:5999") == [True, True]
