"""The effective external-system settings of this worker, and changes to them.

Precedence per field: pinned (environment or ``settings.toml``) > run-time value in the database >
embedded default. Every worker polls the row's revision once a second (one primary-key read, nothing per
XML-RPC request) and applies a change to its external-system ``CredentialChecker`` and HTTP-access flag;
the worker that makes a change applies it at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio

from app.core.config import Settings
from app.core.tasks import cancel_and_wait, sleep_aligned
from app.runtime_settings import store
from app.runtime_settings.store import StoredGlobals
from app.runtime_settings.validation import WRITABLE, InvalidSetting, check_value
from app.security.credentials import CredentialChecker
from app.security.passwords import hash_password
from app.storage.database import Database

logger = logging.getLogger(__name__)
audit = logging.getLogger("adhoc.audit")

POLL_SECONDS: Final = 1.0
_HASH_LIMITER: Final = anyio.CapacityLimiter(1)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a setting and from where; ``via`` is ``api`` or ``console``."""

    user: str
    peer: str
    via: str


class SettingPinned(Exception):
    def __init__(self, field: str, pinned_by: str) -> None:
        super().__init__(f"{field} is pinned by {pinned_by}")
        self.field = field
        self.pinned_by = pinned_by


class RuntimeSettings:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        checker: CredentialChecker,
        pins: dict[str, str],
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._base = settings.external_system
        self._database = database
        self._checker = checker
        self.pins: Final = dict(pins)
        self._poll_seconds = poll_seconds
        self._stored = StoredGlobals(revision=-1)
        self._task: asyncio.Task[None] | None = None
        self.enable_http_access: bool = self._base.enable_http_access

    # -- effective values -----------------------------------------------------------------------------

    def _pinned(self, field: str) -> bool:
        return field in self.pins

    @property
    def revision(self) -> int:
        return self._stored.revision

    @property
    def username(self) -> str:
        if self._pinned("legacy_api_username") or self._stored.legacy_api_username is None:
            return self._base.username
        return self._stored.legacy_api_username

    @property
    def password_configured(self) -> bool:
        if self._pinned("legacy_api_password"):
            return self._base.configured
        return self._stored.legacy_api_password_hash is not None

    def _http(self) -> bool:
        if self._pinned("legacy_api_http") or self._stored.legacy_api_http is None:
            return self._base.enable_http_access
        return self._stored.legacy_api_http

    def view(self) -> dict[str, Any]:
        """The writable fields as the API shows them (the password only as ``..._configured``)."""
        return {
            "legacy_api_username": self.username,
            "legacy_api_http": self.enable_http_access,
            "legacy_api_password_configured": self.password_configured,
        }

    # -- applying what the database holds --------------------------------------------------------------

    def _apply(self, stored: StoredGlobals) -> None:
        if stored.revision <= self._stored.revision:
            return  # unchanged, or a poll that began before a change this worker has applied already
        self._stored = stored
        kwargs: dict[str, Any] = {}
        if not self._pinned("legacy_api_username"):
            kwargs["username"] = self.username
        if not self._pinned("legacy_api_password"):  # unpinned: the start-up settings hold no password
            kwargs["password_hash"] = stored.legacy_api_password_hash
        self._checker.replace(**kwargs)
        self.enable_http_access = self._http()
        logger.debug("run-time settings applied", extra={"revision": stored.revision})

    async def load(self) -> None:
        """Read the row and apply it if it changed (what the poller does every second)."""
        self._apply(await self._database.run_core(store.read, write=False))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="runtime settings poll")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _poll(self) -> None:
        failing = False
        while True:
            await sleep_aligned(self._poll_seconds)
            try:
                await self.load()
            except Exception as exc:
                if not failing:
                    logger.warning("run-time settings could not be read", extra={"error_type": type(exc).__name__})
                failing = True
            else:
                if failing:
                    logger.info("run-time settings readable again")
                failing = False

    # -- changes ---------------------------------------------------------------------------------------

    def check(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Validated changes; ``InvalidSetting`` (400) or ``SettingPinned`` (409) for the first bad field."""
        for field in changes:
            if field not in WRITABLE:
                raise InvalidSetting(field, "unknown field")
        for field in WRITABLE:
            if field in changes and self._pinned(field):
                raise SettingPinned(field, self.pins[field])
        return {field: check_value(field, changes[field]) for field in WRITABLE if field in changes}

    async def change(self, changes: dict[str, Any], actor: Actor) -> list[str]:
        """Store the changes (all or none), apply them here at once, write one audit line; the changed keys."""
        checked = self.check(changes)
        if not checked:
            return []
        values: dict[str, Any] = {}
        if "legacy_api_username" in checked:
            values["legacy_api_username"] = checked["legacy_api_username"]
        if "legacy_api_http" in checked:
            values["legacy_api_http"] = checked["legacy_api_http"]
        if "legacy_api_password" in checked:
            password = checked["legacy_api_password"]
            values["legacy_api_password_hash"] = (
                None
                if password is None
                else await anyio.to_thread.run_sync(hash_password, password, limiter=_HASH_LIMITER)
            )
        now = datetime.now(UTC).replace(tzinfo=None)

        def unit(connection: Any) -> StoredGlobals:
            return store.write(connection, values, updated_by=actor.user, now=now)

        self._apply(await self._database.run_core(unit))
        keys = sorted(checked)
        audit.info(
            "global settings changed",
            extra={
                "action": "global_settings.update",
                "admin_user": actor.user,
                "peer": actor.peer,
                "via": actor.via,
                "changed": ",".join(keys),
            },
        )
        return keys
