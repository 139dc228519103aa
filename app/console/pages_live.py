"""Conferences (live list, hang-up per participant and per conference) and SIP registrations pages."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from app.conferences.schemas import ParticipantIdentity
from app.conferences.service import ConferenceService
from app.console.common import (
    PREFIX,
    SECURITY_HEADERS,
    SignedIn,
    checked_form,
    current_session,
    page,
    redirect,
    services,
)
from app.console.live import PAGE_SIZE, live_page
from app.console.sessions import Session
from app.sip_registration.status_store import AliasStatus, StatusStore
from app.xmlrpc.faults import FaultCode, McuFault

router = APIRouter(include_in_schema=False)
CONFERENCES: Final = f"{PREFIX}/conferences/"
REGISTRATIONS: Final = f"{PREFIX}/registrations/"
MAX_OFFSET: Final = 2**31 - 1
# What the page says for the faults a hang-up can meet.
_FAULT_MESSAGES: Final = {
    FaultCode.NO_SUCH_CONFERENCE: "That conference no longer exists.",
    FaultCode.NO_SUCH_PARTICIPANT: "That participant is no longer in the conference.",
}


def _offset(request: Request) -> int:
    try:
        return min(max(int(request.query_params.get("offset", "0")), 0), MAX_OFFSET)
    except ValueError:
        return 0


def _conferences(request: Request) -> ConferenceService:
    service = services(request).conferences
    assert service is not None  # set by the lifespan
    return service


async def _conference_page(
    request: Request, session: Session, *, error: str | None = None, status: int = 200
) -> Response:
    offset = _offset(request)
    live = await live_page(services(request).database, offset)
    return page(
        request,
        "conferences.html",
        status=status,
        session=session,
        title="Conferences",
        nav="conferences",
        live=live,
        error=error,
        previous=f"{CONFERENCES}?offset={max(offset - PAGE_SIZE, 0)}" if offset > 0 else None,
        next=f"{CONFERENCES}?offset={offset + PAGE_SIZE}" if offset + PAGE_SIZE < live.total else None,
    )


@router.get(CONFERENCES)
async def conferences_page(request: Request, session: SignedIn) -> Response:
    return await _conference_page(request, session)


@router.get(f"{PREFIX}/conferences.json")
async def conferences_json(request: Request) -> Response:
    """What the page's script polls to refresh the list without reloading."""
    if await current_session(request) is None:
        return JSONResponse({"error": "sign in first"}, status_code=401, headers=SECURITY_HEADERS)
    live = await live_page(services(request).database, _offset(request))
    return JSONResponse(live.as_json(), headers=SECURITY_HEADERS)


def _fault_message(fault: McuFault) -> str:
    return _FAULT_MESSAGES.get(fault.code, f"Refused: {fault.fault_string} (fault {int(fault.code)}).")


@router.post(f"{CONFERENCES}hangup")
async def hang_up(request: Request, session: SignedIn) -> Response:
    """participant.disconnect: the participant's call is torn down, the participant stays listed."""
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    try:
        identity = ParticipantIdentity.model_validate(
            {
                "conferenceName": form.get("conference", ""),
                "participantName": form.get("participant", ""),
                "participantProtocol": form.get("protocol") or None,
                "participantType": form.get("type") or None,
            }
        )
        await _conferences(request).disconnect_participant(identity)
    except McuFault as fault:
        return await _conference_page(request, session, error=_fault_message(fault), status=404)
    except ValidationError:
        return await _conference_page(request, session, error="That participant is not valid.", status=400)
    return redirect(f"{CONFERENCES}?done=hungup")


@router.post(f"{CONFERENCES}destroy")
async def destroy(request: Request, session: SignedIn) -> Response:
    """conference.destroy: every call ends and the conference is removed."""
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    name = form.get("conference", "")
    if not name or len(name) > 31:
        return await _conference_page(request, session, error="That conference name is not valid.", status=400)
    try:
        await _conferences(request).destroy(name)
    except McuFault as fault:
        return await _conference_page(request, session, error=_fault_message(fault), status=404)
    return redirect(f"{CONFERENCES}?done=destroyed")


@router.get(REGISTRATIONS)
async def registrations_page(request: Request, session: SignedIn) -> Response:
    offset = _offset(request)
    registrar = services(request).settings.sip.registrar
    total, items = 0, list[AliasStatus]()
    if registrar is not None:
        total, items = await StatusStore(services(request).database).page(limit=PAGE_SIZE, offset=offset)
    return page(
        request,
        "registrations.html",
        session=session,
        title="SIP registrations",
        nav="registrations",
        registrar=registrar,
        items=items,
        total=total,
        previous=f"{REGISTRATIONS}?offset={max(offset - PAGE_SIZE, 0)}" if offset > 0 else None,
        next=f"{REGISTRATIONS}?offset={offset + PAGE_SIZE}" if offset + PAGE_SIZE < total else None,
    )
