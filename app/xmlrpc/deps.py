"""``ExternalSystem``: the one door every CUCM-facing XML-RPC route goes through (a FastAPI dependency).

In this order, as issue 2 fixed it:

1. A method other than POST is 405.
2. Plain HTTP is refused (403) unless ``external_system.enable_http_access`` is on, before any credential.
3. The body is read, capped at 64 KiB (413).
4. A Basic header, when present, must be valid (else 401).
5. The body is parsed (defused).
6. In-body ``authenticationUser``/``authenticationPassword``, when present, must be valid (else fault 15);
   with neither carrier present the answer is 401.

The route gets an ``AuthenticatedCall``: the method name, the params without the credentials and the
call's context. A refusal is raised as ``RpcRefusal`` carrying its pre-built reply (see ``endpoint``).
The dependency takes the ``Request`` only: no FastAPI body parsing or validation runs on this path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import Receive, Scope

from app.core.state import AppServices
from app.metrics.instruments import auth_failed
from app.security.basic import MalformedBasicHeader, parse_basic
from app.transport.access_log import note_rpc
from app.transport.body_limit import MAX_BODY_BYTES, declared_too_large
from app.transport.listener import transport_of
from app.transport.reply import Reply, json_reply, too_large
from app.xmlrpc.codec import parse_call
from app.xmlrpc.context import CallContext
from app.xmlrpc.faults import FaultCode, McuFault
from app.xmlrpc.responses import (
    HTTP_DISABLED,
    INSUFFICIENT_PRIVILEGES,
    METHOD_NOT_ALLOWED,
    OPERATION_FAILED,
    UNAUTHORIZED,
    fault_reply,
)

logger = logging.getLogger("adhoc.auth")

AUTH_USER = "authenticationUser"
AUTH_PASSWORD = "authenticationPassword"  # noqa: S105 - the member's name, not a secret
_INSUFFICIENT = int(FaultCode.INSUFFICIENT_PRIVILEGES)
# The client went away mid-body: the route answers it by sending nothing at all.
CLIENT_GONE = json_reply(400, {"error": "client disconnected"})


class RpcRefusal(Exception):
    """The request ends at the door with ``reply`` (403, 405, 413, 401, or a fault with HTTP 200)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        super().__init__(reply.status)


@dataclass(slots=True)  # made on every request: a frozen dataclass costs three times as much to build
class AuthenticatedCall:
    """An XML-RPC call whose caller passed every credential check."""

    method: str
    params: dict[str, Any]
    context: CallContext
    scope: Scope


class _Disconnected(Exception):
    """The client went away before the whole body arrived: nobody to answer."""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is (or declares to be) over ``limit`` bytes."""
    if declared_too_large(scope, limit):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


def _auth_failure(scope: Scope, carrier: str, username: str, peer: str) -> None:
    auth_failed("external_system", carrier)
    note_rpc(scope, outcome="denied", fault=_INSUFFICIENT, user=username)
    logger.warning("external-system authentication failed", extra={"carrier": carrier, "user": username, "peer": peer})


async def _authenticate(scope: Scope, services: AppServices, peer: str, body: bytes) -> AuthenticatedCall:
    checker = services.external_system
    try:
        basic = parse_basic(_header(scope, b"authorization"))
    except MalformedBasicHeader:
        _auth_failure(scope, "basic", "", peer)
        raise RpcRefusal(UNAUTHORIZED) from None
    if basic is not None and not await checker.check(basic.username, basic.password, peer):
        _auth_failure(scope, "basic", basic.username, peer)
        raise RpcRefusal(UNAUTHORIZED)

    try:
        call = parse_call(body)
    except McuFault as fault:
        note_rpc(scope, outcome="fault", fault=int(fault.code))
        raise RpcRefusal(fault_reply(fault)) from None
    note_rpc(scope, rpc_method=call.method[:64])

    params: dict[str, Any] = call.params
    if AUTH_USER in params or AUTH_PASSWORD in params:
        params = dict(params)
        username, password = params.pop(AUTH_USER, ""), params.pop(AUTH_PASSWORD, "")
        if not isinstance(username, str) or not isinstance(password, str):
            _auth_failure(scope, "body", "", peer)
            raise RpcRefusal(INSUFFICIENT_PRIVILEGES)
        if not await checker.check(username, password, peer):
            _auth_failure(scope, "body", username, peer)
            raise RpcRefusal(INSUFFICIENT_PRIVILEGES)
        user = username
    elif basic is None:
        _auth_failure(scope, "none", "", peer)
        raise RpcRefusal(UNAUTHORIZED)
    else:
        user = basic.username
    return AuthenticatedCall(call.method, params, CallContext(services=services, peer=peer, user=user), scope)


async def external_system(request: Request) -> AuthenticatedCall:
    """The external-system door: listener, body cap, Basic, body credentials (see the module docstring)."""
    scope = request.scope
    if scope["method"] != "POST":
        note_rpc(scope, outcome="refused")
        raise RpcRefusal(METHOD_NOT_ALLOWED)
    services: AppServices = request.app.state.services
    transport = transport_of(scope)
    if not transport.secure and not services.external_http_access:
        note_rpc(scope, outcome="http_disabled")
        raise RpcRefusal(HTTP_DISABLED)
    try:
        body = await _read_body(scope, request.receive, MAX_BODY_BYTES)
    except _Disconnected:
        note_rpc(scope, outcome="disconnected")
        raise RpcRefusal(CLIENT_GONE) from None
    if body is None:
        note_rpc(scope, outcome="refused")
        raise RpcRefusal(too_large(MAX_BODY_BYTES))
    try:
        return await _authenticate(scope, services, transport.peer, body)
    except RpcRefusal:
        raise
    except Exception:
        # Whatever broke, CUCM gets fault 201 and never the exception text.
        logger.exception("XML-RPC request failed")
        note_rpc(scope, outcome="error", fault=int(FaultCode.OPERATION_FAILED))
        raise RpcRefusal(OPERATION_FAILED) from None


ExternalSystem = Annotated[AuthenticatedCall, Depends(external_system)]
