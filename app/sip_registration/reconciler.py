"""Keeps the registrar in line with the live conferences, from exactly one worker (the lease owner).

Every worker runs a :class:`RegistrationCoordinator`. Each tick (about a second, or at once when the
local conference hook pokes it) a non-owner only looks at the lease row. The owner renews the lease every
few seconds, runs the one :class:`~app.sip.registration.RegistrationManager` (and so the one SIP socket),
registers the aliases of conferences that want it and are not over, un-registers the rest, and copies
each alias's status into ``sip_registration_status`` for the status endpoint on every worker. Once an
alias's ``unregistered`` status is saved, the manager forgets it: memory follows the live conferences.

Losing the lease stops the manager without un-registering (the next owner refreshes the bindings). A
clean shutdown un-registers (``Expires: 0``) within the manager's bound, then releases the lease; see the
README ("SIP registration") for why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from app.conferences import repository as conference_repository
from app.conferences.clock import Clock, utc_clock
from app.core.tasks import cancel_and_wait, sleep_or_wake
from app.sip.client import SipUserAgent
from app.sip.digest import CredentialLookup
from app.sip.registration import RegistrationManager, RegistrationState, RegistrationStatus
from app.sip.settings import SipSettings
from app.sip.uri import parse_uri
from app.sip_registration.lease import SAFETY_MARGIN_SECONDS, Lease
from app.sip_registration.status_store import AliasStatus, StatusStore
from app.storage.database import Database

logger = logging.getLogger("adhoc.sip_registration")

TICK_SECONDS = 1.0
RENEW_EVERY_SECONDS = 5.0
FULL_RECONCILE_SECONDS = 30.0
START_RETRY_SECONDS = 5.0
PURGE_EVERY_SECONDS = 60.0
UNREGISTERED_RETENTION = timedelta(hours=1)
ABANDONED_REASON = "left by a previous owner that stopped without un-registering; expires at the registrar"

ManagerFactory = Callable[[], RegistrationManager]


class OwnedService(Protocol):
    """What else the lease owner runs on its SIP socket (the calls: ``app.calls.owner.CallOwner``)."""

    async def start(self, ua: SipUserAgent) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Wanted:
    numeric_id: str
    conference_name: str


def _naive(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


class RegistrationCoordinator:
    def __init__(
        self,
        database: Database,
        settings: SipSettings,
        lookup: CredentialLookup,
        *,
        lease: Lease | None = None,
        manager_factory: ManagerFactory | None = None,
        tick: float = TICK_SECONDS,
        renew_every: float = RENEW_EVERY_SECONDS,
        clock: Clock = utc_clock,
        owned: OwnedService | None = None,
    ) -> None:
        self.owned = owned
        self._ua: SipUserAgent | None = None
        self.lookup = lookup
        self.database = database
        self.settings = settings
        self.lease = lease or Lease(database, clock=clock)
        self.store = StatusStore(database)
        self.tick = tick
        self.renew_every = renew_every
        self.clock = clock
        self._manager_factory = manager_factory or (lambda: RegistrationManager(settings, lookup, user_agent=self._ua))
        self._manager: RegistrationManager | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._held_until = 0.0
        self._renew_due = 0.0
        self._start_after = 0.0
        self._purge_due = 0.0
        self._full_due = 0.0
        self._revision: int | None = None
        self._wanted: dict[str, _Wanted] = {}
        self._known: dict[str, _Wanted] = {}
        self._persisted: dict[str, AliasStatus] = {}
        self._invalid: set[str] = set()
        self._adopted = False

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """With calls (``owned``) the lease always runs: the owner holds the SIP socket, registrar or not."""
        return self.settings.registrar is not None or self.owned is not None

    @property
    def registers(self) -> bool:
        """Whether conferences are registered with a registrar at all (else their changes are nothing to it)."""
        return self.settings.registrar is not None

    @property
    def is_owner(self) -> bool:
        return self._manager is not None

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="sip-registration")

    def poke(self) -> None:
        """Reconcile now rather than at the next tick (called by the conference hook)."""
        self._wake.set()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._manager is not None:
            still_held = asyncio.get_running_loop().time() < self._held_until
            try:
                await self._resign(unregister=still_held, release=still_held)
            except (SQLAlchemyError, OSError):
                logger.exception("SIP registration shutdown incomplete")

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("SIP registration tick failed; retrying next tick")
            await sleep_or_wake(self._wake, self.tick)

    # -- one tick -------------------------------------------------------------------------------------

    async def run_once(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._manager is not None and now >= self._held_until:
            logger.warning("SIP registration lease not renewed in time; stopping without un-registering")
            await self._resign(unregister=False, release=False)
        if self._manager is None and now < self._start_after:
            return
        renew = self._manager is None or now >= self._renew_due
        if renew and not await self._hold_lease(now):
            return
        if self._manager is None and not await self._take_over(now):
            return
        await self._reconcile(now)
        await self._persist()
        if not self._adopted:
            await self._adopt_leftovers()
        if now >= self._purge_due:
            self._purge_due = now + PURGE_EVERY_SECONDS
            await self.store.purge_unregistered(self.clock() - UNREGISTERED_RETENTION)

    async def _hold_lease(self, now: float) -> bool:
        try:
            held = await self.lease.acquire()
        except (SQLAlchemyError, OSError):
            logger.warning("SIP registration lease check failed", exc_info=True)
            return self._manager is not None  # keep acting until _held_until runs out
        if held:
            self._held_until = now + self.lease.ttl - SAFETY_MARGIN_SECONDS
            self._renew_due = now + self.renew_every
            return True
        if self._manager is not None:
            logger.warning("SIP registration lease taken by another process; stopping without un-registering")
            await self._resign(unregister=False, release=False)
        return False

    async def _take_over(self, now: float) -> bool:
        if self.owned is not None:
            self._ua = SipUserAgent(self.settings, self.lookup)
            self._ua.listen_tcp = True
        manager = self._manager_factory()
        try:
            if self._ua is not None:
                await self._ua.start()
            await manager.start()
            if self.owned is not None and self._ua is not None:
                await self.owned.start(self._ua)
        except OSError as exc:
            logger.error("cannot start the SIP user agent (%s); releasing the registration lease", exc)
            with contextlib.suppress(Exception):
                await manager.stop(unregister=False)
            if self._ua is not None:
                with contextlib.suppress(Exception):
                    await self._ua.stop()
                self._ua = None
            await self.lease.release(grace=0)
            self._start_after = now + START_RETRY_SECONDS
            return False
        logger.info("this worker now owns SIP registration", extra={"owner": self.lease.owner_id})
        self._manager = manager
        self._revision = None
        self._adopted = False
        return True

    async def _resign(self, *, unregister: bool, release: bool) -> None:
        manager, self._manager = self._manager, None
        self._wanted = {}
        if self.owned is not None:
            try:
                await self.owned.stop()
            except Exception:
                logger.exception("stopping the calls failed")
        if manager is not None:
            await manager.stop(unregister=unregister)
            if unregister:
                await self._persist(manager)
        ua, self._ua = self._ua, None
        if ua is not None:
            await ua.stop()
        self._persisted = {}
        self._known = {}  # the next owner's reconcile fills it again from the live conferences
        if release:
            await self.lease.release()
        logger.info("this worker no longer owns SIP registration", extra={"unregistered": unregister})

    # -- reconciliation -------------------------------------------------------------------------------

    async def _reconcile(self, now: float) -> None:
        manager = self._manager
        assert manager is not None
        if self.settings.registrar is None:
            return  # the owner holds the SIP socket for calls only
        async with self.database.session() as session:
            revision = await conference_repository.current_revision(session)
            if revision == self._revision and now < self._full_due:
                return
            candidates = await conference_repository.registration_candidates(session, self.clock())
        self._revision = revision
        self._full_due = now + FULL_RECONCILE_SECONDS
        desired: dict[str, _Wanted] = {}
        invalid: set[str] = set()  # warned about once while a live conference carries it, then forgotten
        for name, numeric_id in candidates:
            try:
                uri = manager.alias_uri(numeric_id)
            except ValueError:
                invalid.add(numeric_id)
                if numeric_id not in self._invalid:
                    logger.warning("numericId cannot be registered as a SIP alias", extra={"conference": name})
                continue
            desired.setdefault(uri, _Wanted(numeric_id, name))
        self._invalid = invalid
        for uri, wanted in desired.items():
            self._known[uri] = wanted
            if uri not in self._wanted:
                manager.register(wanted.numeric_id)
                logger.info("registering conference alias", extra={"alias": uri, "conference": wanted.conference_name})
        for uri in self._wanted.keys() - desired.keys():
            manager.unregister(uri)
            logger.info("un-registering conference alias", extra={"alias": uri})
        self._wanted = desired

    def _alias_status(self, status: RegistrationStatus) -> AliasStatus:
        wanted = self._known.get(status.alias)
        numeric_id = wanted.numeric_id if wanted else (parse_uri(status.alias).user or "")
        return AliasStatus(
            alias=status.alias,
            numeric_id=numeric_id,
            conference_name=wanted.conference_name if wanted else "",
            state=str(status.state),
            realm=status.realm,
            algorithm=status.algorithm,
            expires_at=_naive(status.expires_at),
            last_status=status.last_status,
            last_error=status.last_error,
            updated_at=_naive(status.updated_at) or self.clock(),
        )

    async def _persist(self, manager: RegistrationManager | None = None) -> None:
        source = manager if manager is not None else self._manager
        if source is None:
            return
        records = [self._alias_status(status) for status in source.snapshot()]
        changed = [record for record in records if self._persisted.get(record.alias) != record]
        if changed:
            await self.store.save(changed)
            self._persisted.update((record.alias, record) for record in changed)
        if source is self._manager:
            self._forget_unregistered(source, records)

    def _forget_unregistered(self, manager: RegistrationManager, records: list[AliasStatus]) -> None:
        """Aliases no longer wanted whose ``unregistered`` row is saved: the manager and this owner let go.

        Without this every alias ever registered stays in memory; the row stays for the status endpoint
        until ``purge_unregistered``.
        """
        for record in records:
            if record.state != RegistrationState.UNREGISTERED or record.alias in self._wanted:
                continue
            if self._persisted.get(record.alias) != record:
                continue
            if manager.forget(record.alias):
                del self._persisted[record.alias]
                self._known.pop(record.alias, None)

    async def _adopt_leftovers(self) -> None:
        """Rows a previous owner left active that this owner does not manage: say so instead of lying."""
        ours = set(self._persisted)
        leftovers = [alias for alias in await self.store.active_aliases() if alias not in ours]
        await self.store.mark_abandoned(leftovers, self.clock(), ABANDONED_REASON)
        self._adopted = True
