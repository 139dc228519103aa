"""What /RPC2 sends back: results and faults as ``text/xml`` with HTTP 200, refusals as 401/403/405."""

from __future__ import annotations

from typing import Any

from app.transport.reply import Reply, json_reply
from app.xmlrpc.codec import encode_fault, encode_result
from app.xmlrpc.faults import FaultCode, McuFault

XML_CONTENT_TYPE = b"text/xml; charset=utf-8"
BASIC_CHALLENGE = (b"www-authenticate", b'Basic realm="adhoc-bridge"')


def result_reply(result: dict[str, Any]) -> Reply:
    return Reply(200, encode_result(result), XML_CONTENT_TYPE)


def fault_reply(fault: McuFault) -> Reply:
    return Reply(200, encode_fault(fault), XML_CONTENT_TYPE)


_PRIVILEGES = encode_fault(McuFault(FaultCode.INSUFFICIENT_PRIVILEGES))
# No credentials, or a wrong Basic header: 401 with a Basic challenge and a fault-15 body.
UNAUTHORIZED = Reply(401, _PRIVILEGES, XML_CONTENT_TYPE, (BASIC_CHALLENGE,))
INSUFFICIENT_PRIVILEGES = Reply(200, _PRIVILEGES, XML_CONTENT_TYPE)
OPERATION_FAILED = fault_reply(McuFault(FaultCode.OPERATION_FAILED))
HTTP_DISABLED = json_reply(403, {"error": "HTTP access for external systems is disabled; use HTTPS"})
METHOD_NOT_ALLOWED = json_reply(405, {"error": "XML-RPC calls are POSTed to /RPC2"}, (b"allow", b"POST"))
