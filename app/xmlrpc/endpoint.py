"""``POST /RPC2``: the path every CUCM request takes, from listener check to handler.

1. Plain HTTP is refused (403) unless ``external_system.enable_http_access`` is on, before any credential.
2. A Basic header, when present, must be valid (else 401).
3. The body is parsed (defused, capped at 64 KiB by the BodyLimit middleware).
4. In-body ``authenticationUser``/``authenticationPassword``, when present, must be valid (else fault 15);
   with neither carrier present the answer is 401.
5. The dispatcher validates the struct and runs the handler.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.state import AppServices, services_of
from app.security.basic import MalformedBasicHeader, parse_basic
from app.transport.access_log import note_rpc
from app.transport.listener import transport_of
from app.xmlrpc.codec import parse_call
from app.xmlrpc.context import CallContext
from app.xmlrpc.faults import FaultCode, McuFault
from app.xmlrpc.registry import dispatcher
from app.xmlrpc.responses import (
    fault_response,
    http_disabled_response,
    result_response,
    unauthorized_response,
)

logger = logging.getLogger("adhoc.auth")

router = APIRouter()

AUTH_USER = "authenticationUser"
AUTH_PASSWORD = "authenticationPassword"  # noqa: S105 - the member's name, not a secret


def _auth_failure(request: Request, carrier: str, username: str, peer: str) -> None:
    note_rpc(request.scope, outcome="denied", fault=int(FaultCode.INSUFFICIENT_PRIVILEGES), user=username)
    logger.warning("external-system authentication failed", extra={"carrier": carrier, "user": username, "peer": peer})


@router.post("/RPC2", include_in_schema=False)
async def rpc2(request: Request) -> Response:
    services = services_of(request)
    transport = transport_of(request.scope)
    if not transport.secure and not services.settings.external_system.enable_http_access:
        note_rpc(request.scope, outcome="http_disabled")
        return http_disabled_response()
    # Read outside the guard below: an oversized body is answered 413 by the BodyLimit middleware.
    body = await request.body()
    try:
        return await _authenticated_call(request, services, transport.peer, body)
    except Exception:
        # Whatever broke, CUCM gets fault 201 and never the exception text.
        logger.exception("XML-RPC request failed")
        note_rpc(request.scope, outcome="error", fault=int(FaultCode.OPERATION_FAILED))
        return fault_response(McuFault(FaultCode.OPERATION_FAILED))


async def _authenticated_call(request: Request, services: AppServices, peer: str, body: bytes) -> Response:
    checker = services.external_system
    try:
        basic = parse_basic(request.headers.get("authorization"))
    except MalformedBasicHeader:
        _auth_failure(request, "basic", "", peer)
        return unauthorized_response()
    if basic is not None and not await checker.check(basic.username, basic.password):
        _auth_failure(request, "basic", basic.username, peer)
        return unauthorized_response()

    try:
        call = parse_call(body)
    except McuFault as fault:
        note_rpc(request.scope, outcome="fault", fault=int(fault.code))
        return fault_response(fault)
    note_rpc(request.scope, rpc_method=call.method[:64])

    params: dict[str, Any] = call.params
    if AUTH_USER in params or AUTH_PASSWORD in params:
        params = dict(params)
        username, password = params.pop(AUTH_USER, ""), params.pop(AUTH_PASSWORD, "")
        if not isinstance(username, str) or not isinstance(password, str):
            _auth_failure(request, "body", "", peer)
            return fault_response(McuFault(FaultCode.INSUFFICIENT_PRIVILEGES))
        if not await checker.check(username, password):
            _auth_failure(request, "body", username, peer)
            return fault_response(McuFault(FaultCode.INSUFFICIENT_PRIVILEGES))
        user = username
    elif basic is None:
        _auth_failure(request, "none", "", peer)
        return unauthorized_response()
    else:
        user = basic.username

    context = CallContext(services=services, peer=peer, user=user)
    try:
        result = await dispatcher.dispatch(call.method, params, context)
    except McuFault as fault:
        note_rpc(request.scope, outcome="fault", fault=int(fault.code))
        return fault_response(fault)
    note_rpc(request.scope, outcome="ok", user=user)
    return result_response(result)
