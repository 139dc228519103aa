"""HTTP responses for /RPC2: results and faults as ``text/xml`` with HTTP 200, refusals as 401/403."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from app.xmlrpc.codec import encode_fault, encode_result
from app.xmlrpc.faults import FaultCode, McuFault

XML_MEDIA_TYPE = "text/xml"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="adhoc-bridge"'}


def result_response(result: dict[str, Any]) -> Response:
    return Response(encode_result(result), media_type=XML_MEDIA_TYPE)


def fault_response(fault: McuFault) -> Response:
    return Response(encode_fault(fault), media_type=XML_MEDIA_TYPE)


def unauthorized_response() -> Response:
    """No credentials, or a wrong Basic header: 401 with a Basic challenge and a fault-15 body."""
    body = encode_fault(McuFault(FaultCode.INSUFFICIENT_PRIVILEGES))
    return Response(body, status_code=401, media_type=XML_MEDIA_TYPE, headers=BASIC_CHALLENGE)


def http_disabled_response() -> Response:
    return JSONResponse({"error": "HTTP access for external systems is disabled; use HTTPS"}, status_code=403)
