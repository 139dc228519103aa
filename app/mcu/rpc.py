"""``conference.*`` and ``participant.*`` methods (MCU API 2.9 pp. 27-51, 71-106)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from app.conferences.listing import DEFAULT_SCOPE, enumerate_conferences, enumerate_participants
from app.conferences.schemas import (
    AddParticipantParams,
    ConferenceEnumerateParams,
    ConferenceNameParams,
    CreateConferenceParams,
    ModifyConferenceParams,
    ModifyParticipantParams,
    MoveParticipantParams,
    ParticipantEnumerateParams,
    ParticipantIdentity,
    ParticipantStatusParams,
    Str31,
)
from app.conferences.service import ConferenceService
from app.conferences.views import (
    conference_struct,
    deprecated_participant_struct,
    participant_identity,
    participant_struct,
)
from app.mcu.faults import translate
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher
from app.xmlrpc.faults import FaultCode, McuFault

MAX_FACTORY_CONFERENCE_IDS = 256

rpc: Dispatcher[CallContext] = Dispatcher(translate)


class AnyDialectParticipantEnumerateParams(ParticipantEnumerateParams):
    """participant.enumerate as the MCU (2.9) and the TelePresence Conductor send it.

    ``factoryConferenceIds`` (Conductor) restricts the enumeration to the conferences it names, by
    ``factory_conference_id`` or conference name (the two are the same string on this bridge);
    ``conferenceName`` adds one more.
    """

    factoryConferenceIds: Annotated[list[Str31], Field(max_length=MAX_FACTORY_CONFERENCE_IDS)] | None = None
    # Conductor clients may name one conference instead (an MCU ignores the member; nobody sends it there).
    conferenceName: Str31 | None = None

    def conference_names(self) -> frozenset[str] | None:
        if self.factoryConferenceIds is None and self.conferenceName is None:
            return None
        names = set(self.factoryConferenceIds or ())
        if self.conferenceName is not None:
            names.add(self.conferenceName)
        return frozenset(names)


OK: dict[str, Any] = {"status": "operation successful"}


def _service(ctx: CallContext) -> ConferenceService:
    service = ctx.services.conferences
    if service is None:
        raise McuFault(FaultCode.OPERATION_FAILED)
    return service


@rpc.method("conference.create", CreateConferenceParams)
async def conference_create(params: CreateConferenceParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).create(params)
    return OK


@rpc.method("conference.destroy", ConferenceNameParams)
async def conference_destroy(params: ConferenceNameParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).destroy(params.conferenceName)
    return OK


@rpc.method("conference.end", ConferenceNameParams)
async def conference_end(params: ConferenceNameParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).end(params.conferenceName)
    return OK


@rpc.method("conference.modify", ModifyConferenceParams)
async def conference_modify(params: ModifyConferenceParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).modify(params)
    return OK


@rpc.method("conference.status", ConferenceNameParams)
async def conference_status(params: ConferenceNameParams, ctx: CallContext) -> dict[str, Any]:
    conference, now = await _service(ctx).status(params.conferenceName)
    return conference_struct(conference, now)


@rpc.method("conference.resetCleanupTimeout", ConferenceNameParams)
async def conference_reset_cleanup_timeout(params: ConferenceNameParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).reset_cleanup_timeout(params.conferenceName)
    return OK


@rpc.method("conference.enumerate", ConferenceEnumerateParams)
async def conference_enumerate(params: ConferenceEnumerateParams, ctx: CallContext) -> dict[str, Any]:
    return await enumerate_conferences(_service(ctx), params)


@rpc.method("participant.add", AddParticipantParams)
async def participant_add(params: AddParticipantParams, ctx: CallContext) -> dict[str, Any]:
    participant, conference_name = await _service(ctx).add_participant(params)
    if params.addResponse:
        return {"participant": participant_identity(participant, conference_name)}
    return OK


@rpc.method("participant.remove", ParticipantIdentity)
async def participant_remove(params: ParticipantIdentity, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).remove_participant(params)
    return OK


@rpc.method("participant.connect", ParticipantIdentity)
async def participant_connect(params: ParticipantIdentity, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).connect_participant(params)
    return OK


@rpc.method("participant.disconnect", ParticipantIdentity)
async def participant_disconnect(params: ParticipantIdentity, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).disconnect_participant(params)
    return OK


@rpc.method("participant.modify", ModifyParticipantParams)
async def participant_modify(params: ModifyParticipantParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).modify_participant(params)
    return OK


@rpc.method("participant.move", MoveParticipantParams)
async def participant_move(params: MoveParticipantParams, ctx: CallContext) -> dict[str, Any]:
    await _service(ctx).move_participant(params)
    return OK


@rpc.method("participant.status", ParticipantStatusParams)
async def participant_status(params: ParticipantStatusParams, ctx: CallContext) -> dict[str, Any]:
    participant, conference, now = await _service(ctx).participant(params)
    if params.operationScope is None:  # the deprecated form (guide p.106): one flat struct
        return deprecated_participant_struct(participant, conference, now)
    scope = frozenset(params.operationScope) if params.operationScope else DEFAULT_SCOPE
    return participant_struct(participant, conference, now, scope)


@rpc.method("participant.enumerate", AnyDialectParticipantEnumerateParams)
async def participant_enumerate(params: AnyDialectParticipantEnumerateParams, ctx: CallContext) -> dict[str, Any]:
    return await enumerate_participants(_service(ctx), params, conference_names=params.conference_names())


# Calls the 2.9 guide lists as superseded (p.17) that older MCU clients still send: the same members as
# their successors, answered by the same handlers.
SUPERSEDED_ALIASES: dict[str, str] = {
    "conference.participant.add": "participant.add",
    "conference.participant.modify": "participant.modify",
    "conference.participant.remove": "participant.remove",
}
rpc.method("conference.participant.add", AddParticipantParams)(participant_add)
rpc.method("conference.participant.modify", ModifyParticipantParams)(participant_modify)
rpc.method("conference.participant.remove", ParticipantIdentity)(participant_remove)
