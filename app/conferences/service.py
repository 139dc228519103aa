"""Conference and participant lifecycle over the shared store, raising ``app.conferences.errors``.

Every operation is one synchronous unit of work run whole by ``Database.run`` (one thread hop on SQLite).
Writers serialise on the state row (see ``store.bump_revision``); uniqueness of names and numeric IDs is
enforced by the database's unique constraints, so concurrent creators on any worker or instance get
exactly one winner and ``DuplicateConferenceName`` (or ``DuplicateNumericId``) for the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.conferences import errors, store
from app.conferences.enumeration import DEAD_RECORD_SECONDS
from app.conferences.models import (
    STATE_ROW_ID,
    Conference,
    ConferenceData,
    ConferenceRow,
    ConferenceState,
)
from app.conferences.participants import ParticipantOperations
from app.conferences.schemas import (
    CONFERENCE_OPTION_MEMBERS,
    CreateConferenceParams,
    ModifyConferenceParams,
)
from app.conferences.service_core import (
    ConferenceLookup,
    Registration,
    duration_of,
    options_of,
    registers_with_sip,
    registration_of,
)
from app.conferences.views import ACTIVE_CALL_STATES, conference_is_active, conference_is_completed
from app.core.logging import log_info

logger = logging.getLogger("adhoc.conferences")

SWEEP_BATCH = 50  # conferences ended (or deleted) per unit of work; a full batch makes the sweeper go again


class ConferenceService(ParticipantOperations):
    """Every conference and participant operation (the participant ones in ``participants.py``)."""

    # -- conference.* ---------------------------------------------------------------------------------

    async def create(self, params: CreateConferenceParams) -> None:
        now = self.clock()
        start = params.startTime or now
        duration = duration_of(params, start) or 0
        end_time = start + timedelta(seconds=duration) if duration else None
        if end_time is not None and end_time <= now:
            raise errors.StartTimeInPast
        options = options_of(params, CONFERENCE_OPTION_MEMBERS)
        self._check_ports(options)
        conference = ConferenceRow(
            id=0,
            name=params.conferenceName,
            numeric_id=params.numericId or params.conferenceID or None,
            guest_numeric_id=params.guestNumericId or None,
            options=options,
            start_time=start,
            duration_seconds=duration,
            end_time=end_time,
            ended_at=None,
            cleanup_timeout=params.cleanupTimeout or 0,
            empty_since=None,
            cleanup_due=None,
            locked=bool(params.startLocked),
            active_instance=1,
            revision=0,
        )
        self._refresh_cleanup(conference, 0, now)
        values = {name: getattr(conference, name) for name in store.INSERT_COLUMNS}
        claims = store.numeric_claims(conference.numeric_id, conference.guest_numeric_id)

        def unit(connection: Connection) -> int:
            values["revision"] = self._bump(connection, count_delta=1)
            try:
                conference_id = store.insert_conference(connection, values)
            except IntegrityError:
                raise errors.DuplicateConferenceName from None
            try:
                store.insert_claims(connection, conference_id, claims)
            except IntegrityError:
                raise errors.DuplicateNumericId from None
            return conference_id

        conference.id = await self.database.run_core(unit)
        log_info(logger, "conference created", {"conference": conference.name, "unique_id": conference.id})
        await self._notify_created(registration_of(conference))

    async def destroy(self, name: str) -> None:
        now = self.clock()

        def unit(connection: Connection) -> tuple[str | None, dict[str, Any]]:
            revision = self._bump(connection, count_delta=-1)
            deleted = store.delete_conference(connection, name, revision, now)
            if deleted is None:
                raise errors.NoSuchConference
            return deleted

        numeric_id, options = await self.database.run_core(unit)
        log_info(logger, "conference destroyed", {"conference": name})
        await self._notify_removed(Registration(name, numeric_id, registers_with_sip(options)))

    @staticmethod
    def _disconnect_all(session: Session, conference: Conference, revision: int, now: datetime) -> None:
        for participant in store.participants_of(session, conference.id):
            if participant.call_state in ACTIVE_CALL_STATES:
                participant.call_state = "disconnected"
                participant.disconnect_time = now
                participant.disconnect_reason = "disconnectAll"
                participant.revision = revision

    async def end(self, name: str) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            revision = self._bump(session)
            conference = self._conference(session, name)
            if conference.ended_at is None:
                conference.ended_at = min(now, conference.end_time) if conference.end_time else now
                self._disconnect_all(session, conference, revision, now)
                conference.revision = revision
                self._refresh_cleanup(conference, 0, now)

        await self.database.run(unit)
        log_info(logger, "conference ended", {"conference": name, "by": "api"})

    async def modify(self, params: ModifyConferenceParams) -> None:
        now = self.clock()
        fields = params.model_fields_set

        def unit(session: Session) -> tuple[Registration, Registration]:
            revision = self._bump(session)
            conference = self._conference(session, params.conferenceName)
            before = registration_of(conference)
            options = dict(conference.options)
            options.update(options_of(params, CONFERENCE_OPTION_MEMBERS))
            self._check_ports(options)
            connected = store.participant_count(session, conference.id, present_only=True)
            conference.options = options
            if connected > self._port_limit(conference):
                raise errors.PortLimitBelowConnected
            if params.newConferenceName is not None:
                conference.name = params.newConferenceName
            if "locked" in fields and params.locked is not None:
                conference.locked = params.locked
            if "cleanupTimeout" in fields and params.cleanupTimeout is not None:
                conference.cleanup_timeout = params.cleanupTimeout
            if params.startTime is not None:
                conference.start_time = params.startTime
            duration = duration_of(params, conference.start_time)
            if duration is not None or params.startTime is not None:
                if duration is not None:
                    conference.duration_seconds = duration
                seconds = conference.duration_seconds
                conference.end_time = conference.start_time + timedelta(seconds=seconds) if seconds else None
                if conference.ended_at is not None and not conference_is_completed_at(conference, now):
                    conference.ended_at = None
                    conference.active_instance += 1
            numeric_changed = bool({"numericId", "conferenceID", "guestNumericId"} & fields)
            if "numericId" in fields or "conferenceID" in fields:
                conference.numeric_id = params.numericId or params.conferenceID or None
            if "guestNumericId" in fields:
                conference.guest_numeric_id = params.guestNumericId or None
            conference.revision = revision
            self._refresh_cleanup(conference, connected, now)
            try:
                session.flush()
            except IntegrityError:
                raise errors.DuplicateConferenceName from None
            if numeric_changed:
                try:
                    store.replace_numeric_ids(session, conference)
                except IntegrityError:
                    raise errors.DuplicateNumericId from None
            return before, registration_of(conference)

        before, after = await self.database.run(unit)
        if after != before:
            await self._notify_removed(before)
            await self._notify_created(after)

    async def status(self, name: str) -> tuple[ConferenceData, datetime]:
        def unit(connection: Connection) -> ConferenceRow | None:
            return store.conference_row(connection, name)

        conference = await self.database.run_core(unit, write=False)
        if conference is None:
            raise errors.NoSuchConference
        return conference, self.clock()

    async def conference_count(self) -> int:
        """Conferences that exist now (any worker or instance sharing the database)."""

        def unit(connection: Connection) -> int:
            state = ConferenceState.__table__.c
            query = select(state.conference_count).where(state.id == STATE_ROW_ID)
            return int(connection.execute(query).scalar_one())

        return await self.database.run_core(unit, write=False)

    async def reset_cleanup_timeout(self, name: str) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            self._bump(session)
            conference = self._conference(session, name)
            if conference.cleanup_due is not None:
                restarted = now + timedelta(seconds=conference.cleanup_timeout)
                conference.cleanup_due = max(conference.cleanup_due, restarted)

        await self.database.run(unit)

    async def conference_for_numeric_id(self, numeric_id: str) -> ConferenceLookup | None:
        """The conference a dialled numeric ID (``numericId`` or ``guestNumericId``) reaches, if any."""

        def unit(session: Session) -> tuple[Conference, bool] | None:
            return store.conference_by_numeric_id(session, numeric_id)

        found = await self.database.run(unit, write=False)
        if found is None:
            return None
        conference, guest = found
        return ConferenceLookup(
            name=conference.name,
            unique_id=conference.id,
            numeric_id=numeric_id,
            guest=guest,
            active=conference_is_active(conference, self.clock()),
            pin=str(conference.options.get("pin", "")),
            guest_pin=str(conference.options.get("guestPin", "")),
            register_with_sip=bool(conference.options.get("registerWithSIPRegistrar", False)),
        )

    async def next_due_at(self) -> datetime | None:
        """When the next conference falls due (its end or its cleanup); None when none is timed."""
        return await self.database.run_core(store.next_due, write=False)

    async def end_due_conferences(self, limit: int = SWEEP_BATCH) -> list[str]:
        """End conferences whose finite duration is over; each is ended by exactly one process."""
        now = self.clock()

        def due(connection: Connection) -> bool:
            return store.any_due_end(connection, now)

        def unit(session: Session) -> list[str]:
            revision = self._bump(session)
            ended: list[str] = []
            for conference_id in store.due_ends(session, now, limit):
                conference = session.get(Conference, conference_id, populate_existing=True)
                if conference is None or conference.ended_at is not None or conference.end_time is None:
                    continue
                conference.ended_at = conference.end_time
                conference.revision = revision
                self._disconnect_all(session, conference, revision, now)
                self._refresh_cleanup(conference, 0, now)
                ended.append(conference.name)
            return ended

        if not await self.database.run_core(due, write=False):  # Core: this check runs every sweep
            return []
        ended = await self.database.run(unit)
        for name in ended:
            logger.info("conference ended", extra={"conference": name, "by": "duration"})
        return ended

    async def delete_due_conferences(self, limit: int = SWEEP_BATCH) -> list[str]:
        """Delete conferences whose cleanupTimeout ran out; each is deleted by exactly one process."""
        now = self.clock()

        def due(connection: Connection) -> bool:
            return store.any_due_cleanup(connection, now)

        def unit(session: Session) -> list[Registration]:
            revision = self._bump(session)
            removed: list[Registration] = []
            for conference_id in store.due_cleanups(session, now, limit):
                conference = session.get(Conference, conference_id, populate_existing=True)
                if conference is None or conference.cleanup_due is None or conference.cleanup_due > now:
                    continue
                removed.append(registration_of(conference))
                store.delete_conference(session.connection(), conference.name, revision, now)
            store.adjust_count(session.connection(), -len(removed))
            return removed

        if not await self.database.run_core(due, write=False):  # Core: this check runs every sweep
            return []
        removed = await self.database.run(unit)
        for registration in removed:
            logger.info("conference cleaned up", extra={"conference": registration.name})
            await self._notify_removed(registration)
        return [registration.name for registration in removed]

    async def purge_dead_records(self) -> None:
        before = self.clock() - timedelta(seconds=DEAD_RECORD_SECONDS)

        def unit(session: Session) -> None:
            store.purge_dead(session, before)

        await self.database.run(unit)


def conference_is_completed_at(conference: Conference, now: datetime) -> bool:
    return conference_is_completed(conference, now) and conference.end_time is not None and conference.end_time <= now
