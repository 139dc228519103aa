"""How the SIP side learns about conferences to register (or unregister) their numeric IDs."""

from __future__ import annotations

from typing import Protocol


class ConferenceRegistrationHook(Protocol):
    async def on_conference_created(self, name: str, numeric_id: str | None, register_with_sip: bool) -> None: ...

    async def on_conference_removed(self, name: str, numeric_id: str | None) -> None: ...


class NoRegistration:
    """The default hook: nothing to register."""

    async def on_conference_created(self, name: str, numeric_id: str | None, register_with_sip: bool) -> None:
        return None

    async def on_conference_removed(self, name: str, numeric_id: str | None) -> None:
        return None
