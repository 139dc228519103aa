"""The participant operations of ``ConferenceService``: add, remove, connect, disconnect, modify, move, status."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.conferences import errors, store
from app.conferences.models import (
    Conference,
    Participant,
)
from app.conferences.schemas import (
    PARTICIPANT_OPTION_MEMBERS,
    AddParticipantParams,
    ModifyParticipantParams,
    MoveParticipantParams,
    ParticipantIdentity,
)
from app.conferences.service_core import SUPPORTED_PROTOCOLS, ServiceCore
from app.conferences.views import ACTIVE_CALL_STATES, conference_is_active

logger = logging.getLogger("adhoc.conferences")


def connected_state(protocol: str, participant_type: str) -> str:
    """The call state of a participant told to connect: a SIP participant by address is ``connecting`` until
    the call the bridge places to it is answered (``app.calls`` dials it); one the bridge places no call for
    (H.323) is recorded as ``connected`` at once."""
    return "connecting" if protocol == "sip" and participant_type == "by_address" else "connected"


class ParticipantOperations(ServiceCore):
    # -- participant.* --------------------------------------------------------------------------------

    @staticmethod
    def _participant(session: Session, identity: ParticipantIdentity) -> tuple[Conference, Participant]:
        conference = ServiceCore._conference(session, identity.conferenceName)
        participant = store.participant_by_name(session, conference.id, identity.participantName)
        if (
            participant is None
            or (identity.participantProtocol not in (None, participant.protocol))
            or (identity.participantType not in (None, participant.participant_type))
        ):
            raise errors.NoSuchParticipant
        return conference, participant

    async def add_participant(self, params: AddParticipantParams) -> tuple[Participant, str]:
        now = self.clock()
        protocol = params.participantProtocol or "h323"
        participant_type = params.participantType or "by_address"
        if protocol not in SUPPORTED_PROTOCOLS:
            raise errors.UnsupportedProtocol
        if participant_type not in ("by_address", "ad_hoc"):
            raise errors.UnsupportedParticipantType
        if participant_type == "by_address" and not params.participantName:
            raise errors.NoParticipantName
        if not params.address:
            raise errors.NoParticipantAddress
        options = params.model_dump(mode="json", include=params.model_fields_set & PARTICIPANT_OPTION_MEMBERS)

        def unit(session: Session) -> tuple[Participant, str]:
            revision = self._bump(session)
            conference = self._conference(session, params.conferenceName)
            active = conference_is_active(conference, now)
            if participant_type == "ad_hoc" and not active:
                raise errors.OperationRefused("ad hoc participants join active conferences only")
            count = store.participant_count(session, conference.id)
            if count >= self._port_limit(conference):
                raise errors.ParticipantLimitReached
            connect = active and not options.get("deferConnection", False)
            state = connected_state(protocol, participant_type)
            participant = Participant(
                conference_id=conference.id,
                name=params.participantName if participant_type == "by_address" else f"~{now.timestamp()}",
                protocol=protocol,
                participant_type=participant_type,
                address=params.address,
                options=options,
                call_state=state if connect else "dormant",
                connect_time=now if connect and state == "connected" else None,
                revision=revision,
            )
            session.add(participant)
            try:
                session.flush()
                if participant_type == "ad_hoc":
                    participant.name = str(participant.id)  # "its automatically assigned global participant index"
                    session.flush()
            except IntegrityError:
                raise errors.DuplicateParticipantName from None
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
                raise errors.OperationRefused("conference is not active")
            if participant.call_state not in ACTIVE_CALL_STATES:
                state = connected_state(participant.protocol, participant.participant_type)
                participant.call_state = state
                participant.connect_time = now if state == "connected" else None
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
                raise errors.OperationRefused("only a connected participant can be moved")
            if not conference_is_active(target, now):
                raise errors.OperationRefused("target conference is not active")
            if store.participant_count(session, target.id) >= self._port_limit(target):
                raise errors.ParticipantLimitReached
            if target.options.get("encryptionRequired", False):
                raise errors.OperationRefused("target conference requires encryption")
            participant.conference_id = target.id
            participant.revision = revision
            try:
                session.flush()
            except IntegrityError:
                raise errors.DuplicateParticipantName from None
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
