"""``POST /RPC2`` and ``POST /RPC2/``: FastAPI routes behind the ``ExternalSystem`` dependency.

Every CUCM bridge type posts here: the MCU type to ``/RPC2``, the Meeting Server type (and, as far as
anyone knows, the Conductor type) to ``/RPC2/``. Both paths serve the same tolerant superset of the
three dialects. The dependency (``app.xmlrpc.deps``) is the only way in: it refuses, or hands the route
an authenticated call; the route dispatches it and answers a pre-encoded reply. Nothing on this path
uses FastAPI's body parsing, validation or response models.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.transport.access_log import note_rpc
from app.transport.reply import Reply
from app.xmlrpc.deps import CLIENT_GONE, ExternalSystem, RpcRefusal
from app.xmlrpc.faults import FaultCode, McuFault
from app.xmlrpc.registry import dispatcher
from app.xmlrpc.responses import OPERATION_FAILED, fault_reply, result_reply

logger = logging.getLogger("adhoc.xmlrpc")

RPC_PATH = "/RPC2"
RPC_PATHS = (RPC_PATH, RPC_PATH + "/")
_RPC_PATH_SET = frozenset(RPC_PATHS)
# Every method reaches the dependency, which answers 405 to all but POST (as before, with its JSON body).
RPC_ROUTE_METHODS = ["POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]


class ReplyResponse(Response):
    """A starlette Response around a pre-built ``Reply``: no header rendering or encoding per request."""

    def __init__(self, reply: Reply) -> None:
        self.status_code = reply.status
        self.body = reply.body
        self.background: BackgroundTask | None = None
        self.raw_headers = [
            (b"content-type", reply.content_type),
            (b"content-length", str(len(reply.body)).encode()),
            *reply.extra_headers,
        ]


async def rpc2(call: ExternalSystem) -> Response:
    scope = call.scope
    try:
        result = await dispatcher.dispatch(call.method, call.params, call.context)
    except McuFault as fault:
        if fault.code == FaultCode.METHOD_NOT_SUPPORTED:
            logger.info("unsupported XML-RPC method", extra={"rpc_method": call.method[:64]})
        note_rpc(scope, outcome="fault", fault=int(fault.code))
        return ReplyResponse(fault_reply(fault))
    except Exception:
        # Whatever broke, CUCM gets fault 201 and never the exception text.
        logger.exception("XML-RPC request failed")
        note_rpc(scope, outcome="error", fault=int(FaultCode.OPERATION_FAILED))
        return ReplyResponse(OPERATION_FAILED)
    note_rpc(scope, outcome="ok", user=call.context.user)
    return ReplyResponse(result_reply(result))


class _NothingSent(Response):
    """The client left mid-body: nobody to answer, so nothing is sent (and the access log says ``status=-``)."""

    def __init__(self) -> None:
        self.status_code = 0
        self.background = None
        self.body = b""
        self.raw_headers = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RpcRefusal)
    if exc.reply is CLIENT_GONE:
        return _NothingSent()
    return ReplyResponse(exc.reply)


def install(app: FastAPI) -> None:
    """Serve ``/RPC2`` and ``/RPC2/`` on ``app``, refusals answered from the dependency's replies.

    Call it before any ``include_router``: routes are matched in order, and these are the hot ones, so they
    go first, ahead of the documentation routes FastAPI adds itself. They are added to the application's
    own router (no included-router layer to walk per request).
    """
    app.add_exception_handler(RpcRefusal, _refused)
    routes = app.router.routes
    already = len(routes)  # FastAPI's own documentation routes, added when the app was made
    for path in RPC_PATHS:
        app.router.add_api_route(
            path, rpc2, methods=RPC_ROUTE_METHODS, include_in_schema=False, response_class=Response, name="rpc2"
        )
    routes[:] = routes[already:] + routes[:already]  # matched first, ahead of those too


class ManagementMiddleware:
    """Puts ``middleware`` (built around ``app``) in front of every path but ``/RPC2`` and ``/RPC2/``.

    The management-only layers (admin HTTPS-only, the body-cap middleware) have nothing to do on the RPC
    paths: there the ``ExternalSystem`` dependency refuses plain HTTP first and caps the body itself, in
    the order issue 2 fixed (403 before 413). Both branches end in the same FastAPI application, so every
    XML-RPC request still goes through FastAPI's routing and the dependency.
    """

    def __init__(self, app: ASGIApp, middleware: ASGIApp) -> None:
        self.app = app
        self.middleware = middleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in _RPC_PATH_SET:
            await self.app(scope, receive, send)
        else:
            await self.middleware(scope, receive, send)
