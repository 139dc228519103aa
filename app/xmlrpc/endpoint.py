"""``POST /RPC2`` and ``POST /RPC2/``: FastAPI routes behind the ``ExternalSystem`` dependency.

Every CUCM bridge type posts here: the MCU type to ``/RPC2``, the Meeting Server type (and, as far as
anyone knows, the Conductor type) to ``/RPC2/``. Both paths serve the same tolerant superset of the
three dialects. The dependency (``app.xmlrpc.deps``) is the only way in: it refuses, or hands the route
an authenticated call; the route dispatches it and answers a pre-encoded reply. Nothing on this path
uses FastAPI's body parsing, validation or response models.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from app.transport.access_log import note_rpc
from app.transport.reply import Reply
from app.xmlrpc.deps import ExternalSystem, RpcRefusal
from app.xmlrpc.faults import FaultCode, McuFault
from app.xmlrpc.registry import dispatcher
from app.xmlrpc.responses import OPERATION_FAILED, fault_reply, result_reply

logger = logging.getLogger("adhoc.xmlrpc")

RPC_PATH = "/RPC2"
RPC_PATHS = (RPC_PATH, RPC_PATH + "/")
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


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RpcRefusal)
    return ReplyResponse(exc.reply)


router = APIRouter()
for _path in RPC_PATHS:
    router.add_api_route(
        _path, rpc2, methods=RPC_ROUTE_METHODS, include_in_schema=False, response_class=Response, name="rpc2"
    )


def install(app: FastAPI) -> None:
    """Serve ``/RPC2`` and ``/RPC2/`` on ``app``, refusals answered from the dependency's replies."""
    app.add_exception_handler(RpcRefusal, _refused)
    app.include_router(router)
