"""The conference service's registration hook: wakes the local coordinator; the owner does the work."""

from __future__ import annotations

from app.sip_registration.reconciler import RegistrationCoordinator


class RegistrationHook:
    """Implements ``app.conferences.hooks.ConferenceRegistrationHook`` without ever waiting for the registrar.

    The conference row is committed before the hook runs, so the owner (this worker, or another one that
    polls the conference revision every tick) finds the change in the database.
    """

    def __init__(self, coordinator: RegistrationCoordinator) -> None:
        self.coordinator = coordinator

    async def on_conference_created(self, name: str, numeric_id: str | None, register_with_sip: bool) -> None:
        if register_with_sip and numeric_id and self.coordinator.registers:
            self.coordinator.poke()

    async def on_conference_removed(self, name: str, numeric_id: str | None) -> None:
        # Without a registrar there is nothing to un-register: no pass of the coordinator per destroyed conference.
        if numeric_id and self.coordinator.registers:
            self.coordinator.poke()
