"""XML-RPC bodies in and out, MCU style: one struct parameter in, one struct (or a fault) out.

Parsing goes through defusedxml's expat parser with DTDs, entities and external references forbidden,
so no document can expand, fetch or declare anything. Every way a body can be wrong maps to a fault.
"""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

from app.xmlrpc.faults import FaultCode, McuFault

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class RpcCall:
    method: str
    params: dict[str, Any]


def parse_call(body: bytes) -> RpcCall:
    """Decode a ``methodCall``; raise ``McuFault`` for anything that is not one struct-shaped call."""
    unmarshaller = xmlrpc.client.Unmarshaller(use_builtin_types=True)
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(body)
        parser.close()
        params = unmarshaller.close()
        method = unmarshaller.getmethodname()
    except DefusedXmlException as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (DTDs and entities are refused)") from exc
    except xmlrpc.client.Fault as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (a fault is not a call)") from exc
    except (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (not an XML-RPC methodCall)") from exc
    if not method:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (no methodName; not a methodCall)")
    if len(params) == 0:
        return RpcCall(method, {})
    if len(params) != 1 or not isinstance(params[0], dict):
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "params (expected exactly one struct)")
    return RpcCall(method, params[0])


def encode_result(result: dict[str, Any]) -> bytes:
    """A ``methodResponse`` carrying one struct."""
    return xmlrpc.client.dumps((result,), methodresponse=True).encode("utf-8")


def encode_fault(fault: McuFault) -> bytes:
    payload = xmlrpc.client.dumps(xmlrpc.client.Fault(int(fault.code), fault.fault_string), methodresponse=True)
    return payload.encode("utf-8")
