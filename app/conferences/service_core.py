"""What every conference operation shares: the store, the limits, the clock, and the rules that keep a
conference's bookkeeping right (revision, port limits, cleanup deadline, registration hook).

``ConferenceService`` (``service.py``) is this core plus the conference operations, with the participant
operations (``participants.py``) mixed in; each operation is one unit of work (see ``service.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.conferences import errors, store
from app.conferences.clock import Clock, utc_clock
from app.conferences.enumeration import EnumerateTokens
from app.conferences.hooks import ConferenceRegistrationHook, NoRegistration
from app.conferences.models import (
    Conference,
    ConferenceData,
)
from app.conferences.schemas import (
    MAX_DURATION_SECONDS,
    ConferenceOptions,
)
from app.storage.database import Database

logger = logging.getLogger("adhoc.conferences")

SUPPORTED_PROTOCOLS = frozenset({"sip", "h323"})


@dataclass(frozen=True, slots=True)
class ConferenceLookup:
    """What the SIP side needs about the conference a numeric ID dials into."""

    name: str
    unique_id: int
    numeric_id: str
    guest: bool
    active: bool
    pin: str
    guest_pin: str
    register_with_sip: bool


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    numeric_id: str | None
    register_with_sip: bool


# Settings kept in their own columns but also remembered as given, so conference.status reads them back.
ECHOED_MEMBERS = frozenset({"startLocked", "templateName", "templateNumber", "conferenceID"})


def options_of(params: ConferenceOptions, members: frozenset[str]) -> dict[str, Any]:
    given = params.model_fields_set & (members | ECHOED_MEMBERS)
    if not given:  # CUCM's ad hoc create names the conference and its number only
        return {}
    return params.model_dump(mode="json", include=given)


def registers_with_sip(options: dict[str, Any]) -> bool:
    return bool(options.get("registerWithSIPRegistrar", False))


def registration_of(conference: ConferenceData) -> Registration:
    return Registration(conference.name, conference.numeric_id, registers_with_sip(conference.options))


def duration_of(params: ConferenceOptions, start: datetime) -> int | None:
    if params.durationSeconds is not None:
        return params.durationSeconds
    if params.endTime is not None:
        if params.endTime <= start:
            raise errors.EndBeforeStart
        seconds = int((params.endTime - start).total_seconds())
        if seconds > MAX_DURATION_SECONDS:  # durationSeconds is an XML-RPC <int>
            raise errors.InvalidSetting(member="endTime")
        return seconds
    return None


class ServiceCore:
    def __init__(
        self,
        database: Database,
        *,
        max_conferences: int,
        max_participants: int,
        clock: Clock = utc_clock,
        hook: ConferenceRegistrationHook | None = None,
    ) -> None:
        self.database = database
        self.max_conferences = max_conferences
        self.max_participants = max_participants
        self.clock = clock
        self.hook: ConferenceRegistrationHook = hook or NoRegistration()
        self._tokens: EnumerateTokens | None = None

    # -- plumbing -------------------------------------------------------------------------------------

    def _bump(self, session: Session | Connection, *, count_delta: int = 0) -> int:
        """Start a write: take the writer lock and return the new revision (fault 3 past the count limit)."""
        limit = self.max_conferences if count_delta > 0 else None
        connection = session.connection() if isinstance(session, Session) else session
        revision = store.bump_revision(connection, count_delta=count_delta, max_conferences=limit)
        if revision is None:
            raise errors.ConferenceLimitReached
        return revision

    async def tokens(self) -> EnumerateTokens:
        if self._tokens is None:
            key = await self.database.run_core(store.enumerate_key, write=False)
            self._tokens = EnumerateTokens(bytes.fromhex(key))
        return self._tokens

    async def _notify_created(self, registration: Registration) -> None:
        try:
            await self.hook.on_conference_created(
                registration.name, registration.numeric_id, registration.register_with_sip
            )
        except Exception:
            logger.exception("conference registration hook failed", extra={"conference": registration.name})

    async def _notify_removed(self, registration: Registration) -> None:
        try:
            await self.hook.on_conference_removed(registration.name, registration.numeric_id)
        except Exception:
            logger.exception("conference unregistration hook failed", extra={"conference": registration.name})

    @staticmethod
    def _conference(session: Session, name: str) -> Conference:
        conference = store.conference_by_name(session, name)
        if conference is None:
            raise errors.NoSuchConference
        return conference

    def _port_limit(self, conference: ConferenceData) -> int:
        options = conference.options
        limit = self.max_participants
        enforced = [
            options[ports]
            for ports, enforce in (
                ("maximumVideoPorts", "enforceMaximumVideoPorts"),
                ("maximumAudioPorts", "enforceMaximumAudioPorts"),
            )
            if ports in options and options.get(enforce, True)
        ]
        if len(enforced) == 2:
            limit = min(limit, int(enforced[0]) + int(enforced[1]))
        return limit

    def _check_ports(self, options: dict[str, Any]) -> None:
        if options.get("maximumVideoPorts") == 0 and options.get("maximumAudioPorts") == 0:
            raise errors.InvalidSetting(member="maximumVideoPorts")
        limit = self.max_participants
        if int(options.get("maximumVideoPorts", 0)) + int(options.get("maximumAudioPorts", 0)) > limit:
            raise errors.InvalidSetting(member="maximumVideoPorts")
        if int(options.get("reservedVideoPorts", 0)) + int(options.get("reservedAudioPorts", 0)) > limit:
            raise errors.PortReservationFailure

    @staticmethod
    def _refresh_cleanup(conference: ConferenceData, present: int, now: datetime) -> None:
        """Recompute when an idle (or finished) conference is deleted; see ``cleanupTimeout`` in the guide."""
        if present > 0:
            conference.empty_since = None
        elif conference.empty_since is None:
            conference.empty_since = now
        timeout = timedelta(seconds=conference.cleanup_timeout)
        if conference.cleanup_timeout == 0:
            conference.cleanup_due = None
        elif conference.ended_at is not None:
            conference.cleanup_due = conference.ended_at + timeout
        elif conference.end_time is not None:
            conference.cleanup_due = conference.end_time + timeout
        elif present > 0:
            conference.cleanup_due = None
        else:
            assert conference.empty_since is not None
            conference.cleanup_due = max(conference.empty_since, conference.start_time) + timeout

    def _refresh_presence(self, session: Session, conference: Conference, now: datetime) -> None:
        present = store.participant_count(session, conference.id, present_only=True)
        self._refresh_cleanup(conference, present, now)
