"""``factory.*`` methods of the TelePresence Conductor dialect (pre-XC4.0 conference creation, health).

Conferences made here are ordinary conferences of the domain: ``conferenceName`` is the alias, the
``numericId`` the alias without its ``@host`` (when that is digits) and ``factory_conference_id`` the
alias again, so ``conference.*``/``participant.*`` of any dialect name it by either, and
``conference.enumerate`` lists it. ``conference.create``/``conference.end`` (XC4.0) are the MCU methods.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from app.conductor.faults import conductor_fault, translate
from app.conductor.schemas import FactoryConferenceCreateParams, NoParams
from app.conferences.errors import ConferenceError
from app.conferences.schemas import CreateConferenceParams
from app.conferences.service import ConferenceService
from app.device.rpc import cpu_load_percent
from app.version import SOFTWARE_VERSION
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher, fault_from_validation
from app.xmlrpc.faults import FaultCode, McuFault

logger = logging.getLogger("adhoc.conductor")

rpc: Dispatcher[CallContext] = Dispatcher(translate)

OK = "operation successful"


def _service(ctx: CallContext) -> ConferenceService:
    service = ctx.services.conferences
    if service is None:
        raise McuFault(FaultCode.OPERATION_FAILED)
    return service


def _create_params(params: FactoryConferenceCreateParams) -> CreateConferenceParams:
    members: dict[str, Any] = {"conferenceName": params.conferenceAlias}
    if params.numeric_id is not None:
        members["numericId"] = params.numeric_id
    if params.factoryMaxDurationMinutes:
        members["durationSeconds"] = params.factoryMaxDurationMinutes * 60
    if params.factoryOverridePIN:
        members["pin"] = params.factoryOverridePIN
    if params.factoryOverrideGuestPIN:
        members["guestPin"] = params.factoryOverrideGuestPIN
    try:
        return CreateConferenceParams.model_validate(members)
    except ValidationError as exc:
        raise fault_from_validation(exc) from None


@rpc.method("factory.conferencecreate", FactoryConferenceCreateParams)
async def factory_conference_create(params: FactoryConferenceCreateParams, ctx: CallContext) -> dict[str, Any]:
    try:
        await _service(ctx).create(_create_params(params))
    except ConferenceError as error:
        raise conductor_fault(error) from None
    return {"status": OK, "factory_conference_id": params.conferenceAlias}


@rpc.method("factory.health.query", NoParams)
async def factory_health_query(_params: NoParams, ctx: CallContext) -> dict[str, Any]:
    service = _service(ctx)
    try:
        count = await service.conference_count()
        reachable = True
    except Exception:
        logger.exception("factory.health.query: the conference store did not answer")
        count, reachable = 0, False
    uptime = datetime.now(UTC) - ctx.services.started_at
    return {
        "status": OK,
        "health": "ok" if reachable else "degraded",
        "databaseReachable": reachable,
        "conferenceCount": count,
        "maxConferences": service.max_conferences,
        "availableConferences": max(0, service.max_conferences - count),
        "maxParticipantsPerConference": service.max_participants,
        "cpuLoad": cpu_load_percent(),
        "uptimeSeconds": max(0, int(uptime.total_seconds())),
        "softwareVersion": SOFTWARE_VERSION,
    }
