"""Conference and participant lifecycle over the shared store, raising MCU faults for the RPC layer.

Every operation is one synchronous unit of work run whole by ``Database.run`` (one thread hop on SQLite).
Writers serialise on the state row (see ``store.bump_revision``); uniqueness of names and numeric IDs is
enforced by the database's unique constraints, so concurrent creators on any worker or instance get
exactly one winner and fault 2 (or 18) for the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.conferences import store
from app.conferences.clock import Clock, utc_clock
from app.conferences.enumeration import DEAD_RECORD_SECONDS, EnumerateTokens
from app.conferences.hooks import ConferenceRegistrationHook, NoRegistration
from app.conferences.models import Conference, ConferenceData, ConferenceRow, Participant
from app.conferences.schemas import (
    CONFERENCE_OPTION_MEMBERS,
    PARTICIPANT_OPTION_MEMBERS,
    AddParticipantParams,
    ConferenceOptions,
    CreateConferenceParams,
    ModifyConferenceParams,
    ModifyParticipantParams,
    MoveParticipantParams,
    ParticipantIdentity,
)
from app.conferences.views import ACTIVE_CALL_STATES, conference_is_active, conference_is_completed
from app.storage.database import Database
from app.xmlrpc.faults import FaultCode, McuFault

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
class _Registration:
    name: str
    numeric_id: str | None
    register_with_sip: bool


def _options_of(params: ConferenceOptions, members: frozenset[str]) -> dict[str, Any]:
    given = params.model_fields_set & members
    return params.model_dump(mode="json", include=given)


def _registers(options: dict[str, Any]) -> bool:
    return bool(options.get("registerWithSIPRegistrar", False))


def _registration(conference: ConferenceData) -> _Registration:
    return _Registration(conference.name, conference.numeric_id, _registers(conference.options))


def _duration(params: ConferenceOptions, start: datetime) -> int | None:
    if params.durationSeconds is not None:
        return params.durationSeconds
    if params.endTime is not None:
        if params.endTime <= start:
            raise McuFault(FaultCode.INVALID_END_TIME)
        return int((params.endTime - start).total_seconds())
    return None


class ConferenceService:
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
            raise McuFault(FaultCode.TOO_MANY_CONFERENCES)
        return revision

    async def tokens(self) -> EnumerateTokens:
        if self._tokens is None:
            key = await self.database.run_core(store.enumerate_key, write=False)
            self._tokens = EnumerateTokens(bytes.fromhex(key))
        return self._tokens

    async def _notify_created(self, registration: _Registration) -> None:
        try:
            await self.hook.on_conference_created(
                registration.name, registration.numeric_id, registration.register_with_sip
            )
        except Exception:
            logger.exception("conference registration hook failed", extra={"conference": registration.name})

    async def _notify_removed(self, registration: _Registration) -> None:
        try:
            await self.hook.on_conference_removed(registration.name, registration.numeric_id)
        except Exception:
            logger.exception("conference unregistration hook failed", extra={"conference": registration.name})

    @staticmethod
    def _conference(session: Session, name: str) -> Conference:
        conference = store.conference_by_name(session, name)
        if conference is None:
            raise McuFault(FaultCode.NO_SUCH_CONFERENCE)
        return conference

    def _port_limit(self, conference: Conference) -> int:
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
            raise McuFault(FaultCode.INVALID_PARAMETER, "maximumVideoPorts")
        limit = self.max_participants
        if int(options.get("maximumVideoPorts", 0)) + int(options.get("maximumAudioPorts", 0)) > limit:
            raise McuFault(FaultCode.INVALID_PARAMETER, "maximumVideoPorts")
        if int(options.get("reservedVideoPorts", 0)) + int(options.get("reservedAudioPorts", 0)) > limit:
            raise McuFault(FaultCode.PORT_RESERVATION_FAILURE)

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

    # -- conference.* ---------------------------------------------------------------------------------

    async def create(self, params: CreateConferenceParams) -> None:
        now = self.clock()
        start = params.startTime or now
        duration = _duration(params, start) or 0
        end_time = start + timedelta(seconds=duration) if duration else None
        if end_time is not None and end_time <= now:
            raise McuFault(FaultCode.INVALID_START_TIME)
        options = _options_of(params, CONFERENCE_OPTION_MEMBERS)
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
                raise McuFault(FaultCode.DUPLICATE_CONFERENCE_NAME) from None
            try:
                store.insert_claims(connection, conference_id, claims)
            except IntegrityError:
                raise McuFault(FaultCode.DUPLICATE_NUMERIC_ID) from None
            return conference_id

        conference.id = await self.database.run_core(unit)
        logger.info("conference created", extra={"conference": conference.name, "unique_id": conference.id})
        await self._notify_created(_registration(conference))

    async def destroy(self, name: str) -> None:
        now = self.clock()

        def unit(connection: Connection) -> tuple[str | None, dict[str, Any]]:
            revision = self._bump(connection, count_delta=-1)
            deleted = store.delete_conference(connection, name, revision, now)
            if deleted is None:
                raise McuFault(FaultCode.NO_SUCH_CONFERENCE)
            return deleted

        numeric_id, options = await self.database.run_core(unit)
        logger.info("conference destroyed", extra={"conference": name})
        await self._notify_removed(_Registration(name, numeric_id, _registers(options)))

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
        logger.info("conference ended", extra={"conference": name, "by": "api"})

    async def modify(self, params: ModifyConferenceParams) -> None:
        now = self.clock()
        fields = params.model_fields_set

        def unit(session: Session) -> tuple[_Registration, _Registration]:
            revision = self._bump(session)
            conference = self._conference(session, params.conferenceName)
            before = _registration(conference)
            options = dict(conference.options)
            options.update(_options_of(params, CONFERENCE_OPTION_MEMBERS))
            self._check_ports(options)
            connected = store.participant_count(session, conference.id, present_only=True)
            conference.options = options
            if connected > self._port_limit(conference):
                raise McuFault(FaultCode.NEW_PORT_LIMIT_TOO_LOW)
            if params.newConferenceName is not None:
                conference.name = params.newConferenceName
            if "locked" in fields and params.locked is not None:
                conference.locked = params.locked
            if "cleanupTimeout" in fields and params.cleanupTimeout is not None:
                conference.cleanup_timeout = params.cleanupTimeout
            if params.startTime is not None:
                conference.start_time = params.startTime
            duration = _duration(params, conference.start_time)
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
                raise McuFault(FaultCode.DUPLICATE_CONFERENCE_NAME) from None
            if numeric_changed:
                try:
                    store.replace_numeric_ids(session, conference)
                except IntegrityError:
                    raise McuFault(FaultCode.DUPLICATE_NUMERIC_ID) from None
            return before, _registration(conference)

        before, after = await self.database.run(unit)
        if after != before:
            await self._notify_removed(before)
            await self._notify_created(after)

    async def status(self, name: str) -> tuple[ConferenceData, datetime]:
        def unit(connection: Connection) -> ConferenceRow | None:
            return store.conference_row(connection, name)

        conference = await self.database.run_core(unit, write=False)
        if conference is None:
            raise McuFault(FaultCode.NO_SUCH_CONFERENCE)
        return conference, self.clock()

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

    # -- participant.* --------------------------------------------------------------------------------

    @staticmethod
    def _participant(session: Session, identity: ParticipantIdentity) -> tuple[Conference, Participant]:
        conference = ConferenceService._conference(session, identity.conferenceName)
        participant = store.participant_by_name(session, conference.id, identity.participantName)
        if (
            participant is None
            or (identity.participantProtocol not in (None, participant.protocol))
            or (identity.participantType not in (None, participant.participant_type))
        ):
            raise McuFault(FaultCode.NO_SUCH_PARTICIPANT)
        return conference, participant

    async def add_participant(self, params: AddParticipantParams) -> tuple[Participant, str]:
        now = self.clock()
        protocol = params.participantProtocol or "h323"
        participant_type = params.participantType or "by_address"
        if protocol not in SUPPORTED_PROTOCOLS:
            raise McuFault(FaultCode.UNSUPPORTED_PROTOCOL)
        if participant_type not in ("by_address", "ad_hoc"):
            raise McuFault(FaultCode.UNSUPPORTED_PARTICIPANT_TYPE)
        if participant_type == "by_address" and not params.participantName:
            raise McuFault(FaultCode.NO_PARTICIPANT_NAME)
        if not params.address:
            raise McuFault(FaultCode.NO_PARTICIPANT_ADDRESS)
        options = params.model_dump(mode="json", include=params.model_fields_set & PARTICIPANT_OPTION_MEMBERS)

        def unit(session: Session) -> tuple[Participant, str]:
            revision = self._bump(session)
            conference = self._conference(session, params.conferenceName)
            active = conference_is_active(conference, now)
            if participant_type == "ad_hoc" and not active:
                raise McuFault(FaultCode.OPERATION_FAILED, "ad hoc participants join active conferences only")
            count = store.participant_count(session, conference.id)
            if count >= self._port_limit(conference):
                raise McuFault(FaultCode.TOO_MANY_PARTICIPANTS)
            connect = active and not options.get("deferConnection", False)
            participant = Participant(
                conference_id=conference.id,
                name=params.participantName if participant_type == "by_address" else f"~{now.timestamp()}",
                protocol=protocol,
                participant_type=participant_type,
                address=params.address,
                options=options,
                call_state="connected" if connect else "dormant",
                connect_time=now if connect else None,
                revision=revision,
            )
            session.add(participant)
            try:
                session.flush()
                if participant_type == "ad_hoc":
                    participant.name = str(participant.id)  # "its automatically assigned global participant index"
                    session.flush()
            except IntegrityError:
                raise McuFault(FaultCode.DUPLICATE_PARTICIPANT_NAME) from None
            conference.revision = revision
            self._refresh_presence(session, conference, now)
            return participant, conference.name

        return await self.database.run(unit)

    async def remove_participant(self, identity: ParticipantIdentity) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            revision = self._bump(session)
            conference, participant = self._participant(session, identity)
            dead = {
                "participantName": participant.name,
                "participantProtocol": participant.protocol,
                "participantType": participant.participant_type,
                "conferenceName": conference.name,
            }
            store.add_dead(session, "participant", participant.id, dead, revision, now)
            session.delete(participant)
            session.flush()
            conference.revision = revision
            self._refresh_presence(session, conference, now)

        await self.database.run(unit)

    async def connect_participant(self, identity: ParticipantIdentity) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            revision = self._bump(session)
            conference, participant = self._participant(session, identity)
            if not conference_is_active(conference, now):
                raise McuFault(FaultCode.OPERATION_FAILED, "conference is not active")
            if participant.call_state not in ACTIVE_CALL_STATES:
                participant.call_state = "connected"
                participant.connect_time = now
                participant.disconnect_time = None
                participant.disconnect_reason = None
                participant.revision = revision
                session.flush()
                self._refresh_presence(session, conference, now)

        await self.database.run(unit)

    async def disconnect_participant(self, identity: ParticipantIdentity) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            revision = self._bump(session)
            conference, participant = self._participant(session, identity)
            if participant.call_state in ACTIVE_CALL_STATES:
                participant.call_state = "disconnected"
                participant.disconnect_time = now
                participant.disconnect_reason = "localTeardown"
                participant.revision = revision
                session.flush()
                self._refresh_presence(session, conference, now)

        await self.database.run(unit)

    async def modify_participant(self, params: ModifyParticipantParams) -> None:
        options = params.model_dump(mode="json", include=params.model_fields_set & PARTICIPANT_OPTION_MEMBERS)

        def unit(session: Session) -> None:
            revision = self._bump(session)
            _conference, participant = self._participant(session, params)
            merged = dict(participant.options)
            merged.update(options)
            participant.options = merged
            participant.revision = revision

        await self.database.run(unit)

    async def move_participant(self, params: MoveParticipantParams) -> None:
        now = self.clock()

        def unit(session: Session) -> None:
            revision = self._bump(session)
            source, participant = self._participant(session, params)
            target = self._conference(session, params.newConferenceName)
            if target.id == source.id:
                return
            if participant.call_state not in ACTIVE_CALL_STATES:
                raise McuFault(FaultCode.OPERATION_FAILED, "only a connected participant can be moved")
            if not conference_is_active(target, now):
                raise McuFault(FaultCode.OPERATION_FAILED, "target conference is not active")
            if store.participant_count(session, target.id) >= self._port_limit(target):
                raise McuFault(FaultCode.TOO_MANY_PARTICIPANTS)
            if target.options.get("encryptionRequired", False):
                raise McuFault(FaultCode.OPERATION_FAILED, "target conference requires encryption")
            participant.conference_id = target.id
            participant.revision = revision
            try:
                session.flush()
            except IntegrityError:
                raise McuFault(FaultCode.DUPLICATE_PARTICIPANT_NAME) from None
            source.revision = target.revision = revision
            self._refresh_presence(session, source, now)
            self._refresh_presence(session, target, now)

        await self.database.run(unit)

    async def participant(self, identity: ParticipantIdentity) -> tuple[Participant, Conference, datetime]:
        def unit(session: Session) -> tuple[Conference, Participant]:
            return self._participant(session, identity)

        conference, participant = await self.database.run(unit, write=False)
        return participant, conference, self.clock()

    # -- timers ---------------------------------------------------------------------------------------

    async def end_due_conferences(self, limit: int = 50) -> list[str]:
        """End conferences whose finite duration is over; each is ended by exactly one process."""
        now = self.clock()

        def due(session: Session) -> bool:
            return bool(store.due_ends(session, now, 1))

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

        if not await self.database.run(due, write=False):
            return []
        ended = await self.database.run(unit)
        for name in ended:
            logger.info("conference ended", extra={"conference": name, "by": "duration"})
        return ended

    async def delete_due_conferences(self, limit: int = 50) -> list[str]:
        """Delete conferences whose cleanupTimeout ran out; each is deleted by exactly one process."""
        now = self.clock()

        def due(session: Session) -> bool:
            return bool(store.due_cleanups(session, now, 1))

        def unit(session: Session) -> list[_Registration]:
            revision = self._bump(session)
            removed: list[_Registration] = []
            for conference_id in store.due_cleanups(session, now, limit):
                conference = session.get(Conference, conference_id, populate_existing=True)
                if conference is None or conference.cleanup_due is None or conference.cleanup_due > now:
                    continue
                removed.append(_registration(conference))
                store.delete_conference(session.connection(), conference.name, revision, now)
            store.adjust_count(session.connection(), -len(removed))
            return removed

        if not await self.database.run(due, write=False):
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
