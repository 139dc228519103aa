"""XML-RPC bodies in and out, MCU style: one struct parameter in, one struct (or a fault) out.

Parsing goes through defusedxml's expat parser with DTDs, entities and external references forbidden
(``call_reader``), so no document can expand, fetch or declare anything; the usual shape (one struct of
scalars) is read first by a strict fast reader that takes a subset of those documents and gives the same
result (``fast_call``). Every way a body can be wrong maps to a fault.

A reply is written by the fast encoder below. Should a handler hand back a value XML-RPC cannot carry
(``None``, an integer beyond 32 bits: only stored data written by an earlier version can hold one), the
reply is not lost: those members are left out, the rest is sent, and one warning line (at most one a
minute) names them. Nothing is checked on the way when every value encodes.
"""

from __future__ import annotations

import logging
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException

from app.xmlrpc.call_reader import FaultDocument, NestedTooDeep, UnsupportedEncoding, read_call
from app.xmlrpc.faults import FaultCode, McuFault

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
DROPPED_REPORT_INTERVAL_SECONDS = 60.0

logger = logging.getLogger("adhoc.xmlrpc")


@dataclass(slots=True)  # made on every request: a frozen dataclass costs three times as much to build
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
    except NestedTooDeep as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (nested too deeply)") from exc
    except (UnsupportedEncoding, LookupError) as exc:
        raise McuFault(FaultCode.MALFORMED_PARAMETER, "request body (unsupported encoding)") from exc
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


def _encode_response(result: dict[str, Any]) -> bytes:
    parts: list[str] = [_RESPONSE_HEAD, _PARAMS_HEAD]
    _encode_value(result, parts.append)
    parts.append(_PARAMS_TAIL)
    parts.append(_RESPONSE_TAIL)
    return "".join(parts).encode("utf-8")


_LEFT_OUT = object()
_PLAIN = (str, bool, float, datetime, bytes, bytearray, xmlrpc.client.DateTime, xmlrpc.client.Binary)


def _encodable(value: object, path: str, left_out: list[str]) -> object:
    """``value`` without the members and items XML-RPC cannot carry (their paths go to ``left_out``)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, int):
        if INT32_MIN <= value <= INT32_MAX:
            return value
    elif isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            member = f"{path}.{key}" if path else str(key)
            cleaned = _encodable(item, member, left_out) if isinstance(key, str) else _LEFT_OUT
            if cleaned is _LEFT_OUT:
                left_out.append(member)
            else:
                kept[key] = cleaned
        return kept
    elif isinstance(value, list | tuple):
        items: list[Any] = []
        for index, item in enumerate(value):
            cleaned = _encodable(item, f"{path}.{index}", left_out)
            if cleaned is _LEFT_OUT:
                left_out.append(f"{path}.{index}")
            else:
                items.append(cleaned)
        return items
    return _LEFT_OUT


class _Throttle:
    """At most one report per interval; counts what it held back in between."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at = 0.0
        self.held_back = 0

    def take(self) -> int | None:
        """None to stay quiet; else how many reports were held back since the last one."""
        now = time.monotonic()
        if now < self.next_at:
            self.held_back += 1
            return None
        self.next_at = now + self.interval
        held, self.held_back = self.held_back, 0
        return held


_dropped_reports = _Throttle(DROPPED_REPORT_INTERVAL_SECONDS)


class FinishedStruct(dict[str, Any]):
    """A reply struct its handler will never change again: ``encode_result`` encodes it once and keeps the
    bytes with it (for a reply served many times over, such as ``device.query`` within one second)."""

    __slots__ = ("encoded",)

    def __init__(self, members: dict[str, Any]) -> None:
        super().__init__(members)
        self.encoded: bytes | None = None


def encode_result(result: dict[str, Any]) -> bytes:
    """A ``methodResponse`` carrying one struct (the same bytes ``xmlrpc.client.dumps`` produces, faster)."""
    if type(result) is FinishedStruct:
        encoded = result.encoded
        if encoded is None:
            encoded = result.encoded = _encode_checked(result)
        return encoded
    return _encode_checked(result)


def _encode_checked(result: dict[str, Any]) -> bytes:
    try:
        return _encode_response(result)
    except (TypeError, ValueError, OverflowError):
        left_out: list[str] = []
        cleaned = _encodable(result, "", left_out)
        held_back = _dropped_reports.take()
        if held_back is not None:
            logger.warning(
                "reply members that XML-RPC cannot carry were left out",
                extra={"members": ",".join(left_out[:20]), "earlier_replies_not_logged": held_back},
            )
        return _encode_response(cleaned if isinstance(cleaned, dict) else {})


def encode_fault(fault: McuFault) -> bytes:
    payload = xmlrpc.client.dumps(xmlrpc.client.Fault(int(fault.code), fault.fault_string), methodresponse=True)
    return payload.encode("utf-8")
