"""``POST /RPC2``: the path every CUCM request takes, from listener check to handler.

A plain ASGI application placed in front of FastAPI (see ``RpcRoute``): this is the hot path, so it
works on the raw scope and sends pre-built replies, with no request/response objects or routing.

1. Plain HTTP is refused (403) unless ``external_system.enable_http_access`` is on, before any credential.
2. The body is read, capped at 64 KiB (413).
3. A Basic header, when present, must be valid (else 401).
4. The body is parsed (defused).
5. In-body ``authenticationUser``/``authenticationPassword``, when present, must be valid (else fault 15);
   with neither carrier present the answer is 401.
6. The dispatcher validates the struct and runs the handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.state import AppServices
from app.metrics.instruments import auth_failed
from app.security.basic import MalformedBasicHeader, parse_basic
from app.transport.access_log import note_rpc
from app.transport.body_limit import MAX_BODY_BYTES, declared_too_large
from app.transport.listener import transport_of
from app.transport.reply import Reply, too_large
from app.xmlrpc.codec import parse_call
from app.xmlrpc.context import CallContext
from app.xmlrpc.faults import FaultCode, McuFault
from app.xmlrpc.registry import dispatcher
from app.xmlrpc.responses import (
    HTTP_DISABLED,
    INSUFFICIENT_PRIVILEGES,
    METHOD_NOT_ALLOWED,
    OPERATION_FAILED,
    UNAUTHORIZED,
    fault_reply,
    result_reply,
)

logger = logging.getLogger("adhoc.auth")

RPC_PATH = "/RPC2"
AUTH_USER = "authenticationUser"
AUTH_PASSWORD = "authenticationPassword"  # noqa: S105 - the member's name, not a secret
_INSUFFICIENT = int(FaultCode.INSUFFICIENT_PRIVILEGES)


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


class RpcEndpoint:
    """The XML-RPC endpoint; ``services`` returns the running worker's services (set by the lifespan)."""

    def __init__(self, services: Callable[[], AppServices], limit: int = MAX_BODY_BYTES) -> None:
        self._services = services
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await METHOD_NOT_ALLOWED.send(send)
            return
        services = self._services()
        transport = transport_of(scope)
        if not transport.secure and not services.external_http_access:
            note_rpc(scope, outcome="http_disabled")
            await HTTP_DISABLED.send(send)
            return
        try:
            body = await _read_body(scope, receive, self._limit)
        except _Disconnected:
            note_rpc(scope, outcome="disconnected")
            return
        if body is None:
            await too_large(self._limit).send(send)
            return
        try:
            reply = await self._authenticated_call(scope, services, transport.peer, body)
        except Exception:
            # Whatever broke, CUCM gets fault 201 and never the exception text.
            logger.exception("XML-RPC request failed")
            note_rpc(scope, outcome="error", fault=int(FaultCode.OPERATION_FAILED))
            reply = OPERATION_FAILED
        await reply.send(send)

    async def _authenticated_call(self, scope: Scope, services: AppServices, peer: str, body: bytes) -> Reply:
        checker = services.external_system
        try:
            basic = parse_basic(_header(scope, b"authorization"))
        except MalformedBasicHeader:
            _auth_failure(scope, "basic", "", peer)
            return UNAUTHORIZED
        if basic is not None and not await checker.check(basic.username, basic.password, peer):
            _auth_failure(scope, "basic", basic.username, peer)
            return UNAUTHORIZED

        try:
            call = parse_call(body)
        except McuFault as fault:
            note_rpc(scope, outcome="fault", fault=int(fault.code))
            return fault_reply(fault)
        note_rpc(scope, rpc_method=call.method[:64])

        params: dict[str, Any] = call.params
        if AUTH_USER in params or AUTH_PASSWORD in params:
            params = dict(params)
            username, password = params.pop(AUTH_USER, ""), params.pop(AUTH_PASSWORD, "")
            if not isinstance(username, str) or not isinstance(password, str):
                _auth_failure(scope, "body", "", peer)
                return INSUFFICIENT_PRIVILEGES
            if not await checker.check(username, password, peer):
                _auth_failure(scope, "body", username, peer)
                return INSUFFICIENT_PRIVILEGES
            user = username
        elif basic is None:
            _auth_failure(scope, "none", "", peer)
            return UNAUTHORIZED
        else:
            user = basic.username

        context = CallContext(services=services, peer=peer, user=user)
        try:
            result = await dispatcher.dispatch(call.method, params, context)
        except McuFault as fault:
            note_rpc(scope, outcome="fault", fault=int(fault.code))
            return fault_reply(fault)
        note_rpc(scope, outcome="ok", user=user)
        return result_reply(result)


class RpcRoute:
    """Sends ``/RPC2`` to the XML-RPC endpoint and everything else to the management application."""

    def __init__(self, app: ASGIApp, rpc: ASGIApp) -> None:
        self.app = app
        self.rpc = rpc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == RPC_PATH:
            await self.rpc(scope, receive, send)
        else:
            await self.app(scope, receive, send)
