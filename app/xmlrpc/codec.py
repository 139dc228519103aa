"""XML-RPC bodies in and out, MCU style: one struct parameter in, one struct (or a fault) out.

Parsing goes through defusedxml's expat parser with DTDs, entities and external references forbidden
(``call_reader``), so no document can expand, fetch or declare anything. Every way a body can be wrong
maps to a fault.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException

from app.xmlrpc.call_reader import FaultDocument, read_call
from app.xmlrpc.faults import FaultCode, McuFault

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class RpcCall:
    method: str
    params: dict[str, Any]


def parse_call(body: bytes) -> RpcCall:
    """Decode a ``methodCall``; raise ``McuFault`` for anything that is not one struct-shaped call."""
    try:
        method, params = read_call(body)
    except DefusedXmlException as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (DTDs and entities are refused)") from exc
    except FaultDocument as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (a fault is not a call)") from exc
    except (ExpatError, ValueError, TypeError, ArithmeticError) as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (not an XML-RPC methodCall)") from exc
    if not method:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (no methodName; not a methodCall)")
    if len(params) == 0:
        return RpcCall(method, {})
    if len(params) != 1 or not isinstance(params[0], dict):
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "params (expected exactly one struct)")
    return RpcCall(method, params[0])


_RESPONSE_HEAD = "<?xml version='1.0'?>\n<methodResponse>\n"
_RESPONSE_TAIL = "</methodResponse>\n"
_PARAMS_HEAD = "<params>\n<param>\n"
_PARAMS_TAIL = "</param>\n</params>\n"


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


_MEMBER_HEADS: dict[str, str] = {}
_MEMBER_HEADS_MAX = 4096  # struct member names are the handlers' own: a small, fixed set


def _member_head(key: Any) -> str:
    head: str | None = _MEMBER_HEADS.get(key)
    if head is None:
        if not isinstance(key, str):
            raise TypeError("dictionary key must be string")
        head = f"<member>\n<name>{_escape(key)}</name>\n"
        if len(_MEMBER_HEADS) < _MEMBER_HEADS_MAX:
            _MEMBER_HEADS[key] = head
    return head


def _encode_struct(value: dict[Any, Any], write: Callable[[str], None]) -> None:
    """Strings, booleans and ints, the bulk of every reply, are written inline: one call per member."""
    write("<value><struct>\n")
    heads = _MEMBER_HEADS
    for key, item in value.items():
        head = heads.get(key) or _member_head(key)
        kind = type(item)
        if kind is str:
            if "&" in item or "<" in item or ">" in item:
                item = _escape(item)
            write(f"{head}<value><string>{item}</string></value>\n</member>\n")
        elif kind is bool:
            write(f"{head}<value><boolean>{1 if item else 0}</boolean></value>\n</member>\n")
        elif kind is int and INT32_MIN <= item <= INT32_MAX:
            write(f"{head}<value><int>{item}</int></value>\n</member>\n")
        else:
            write(head)
            _encode_value(item, write)
            write("</member>\n")
    write("</struct></value>\n")


def _encode_value(value: object, write: Callable[[str], None]) -> None:
    """One ``<value>``, byte for byte as ``xmlrpc.client`` writes it, for the types handlers return."""
    if isinstance(value, str):
        write(f"<value><string>{_escape(value)}</string></value>\n")
    elif isinstance(value, dict):
        _encode_struct(value, write)
    elif isinstance(value, bool):
        write("<value><boolean>1</boolean></value>\n" if value else "<value><boolean>0</boolean></value>\n")
    elif isinstance(value, int):
        if not INT32_MIN <= value <= INT32_MAX:
            raise OverflowError("int exceeds XML-RPC limits")
        write(f"<value><int>{int(value)}</int></value>\n")
    elif isinstance(value, datetime):
        write(f"<value><dateTime.iso8601>{_iso8601(value)}</dateTime.iso8601></value>\n")
    elif isinstance(value, list | tuple):
        write("<value><array><data>\n")
        for item in value:
            _encode_value(item, write)
        write("</data></array></value>\n")
    else:
        # Floats, bytes, xmlrpc.client wrappers: the standard library's marshaller, unchanged.
        params = xmlrpc.client.Marshaller(allow_none=False).dumps((cast("xmlrpc.client._Marshallable", value),))
        write(params[len(_PARAMS_HEAD) : -len(_PARAMS_TAIL)])


def _iso8601(value: datetime) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def encode_result(result: dict[str, Any]) -> bytes:
    """A ``methodResponse`` carrying one struct (the same bytes ``xmlrpc.client.dumps`` produces, faster)."""
    parts: list[str] = [_RESPONSE_HEAD, _PARAMS_HEAD]
    _encode_value(result, parts.append)
    parts.append(_PARAMS_TAIL)
    parts.append(_RESPONSE_TAIL)
    return "".join(parts).encode("utf-8")


def encode_fault(fault: McuFault) -> bytes:
    payload = xmlrpc.client.dumps(xmlrpc.client.Fault(int(fault.code), fault.fault_string), methodresponse=True)
    return payload.encode("utf-8")
