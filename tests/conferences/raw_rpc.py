"""Hand-written XML-RPC bodies for hostile-value tests: ``<nil/>``, ``<i8>``, integers beyond any XML-RPC
type and arbitrary nesting, which ``xmlrpc.client`` refuses to write, sent over one keep-alive HTTPS connection."""

from __future__ import annotations

import base64
import http.client
import xmlrpc.client
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from tests.support.bridge import EXTERNAL_PASSWORD, EXTERNAL_USER, Bridge


@dataclass(frozen=True)
class Raw:
    """A ``<value>`` written verbatim (its inner XML)."""

    xml: str


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any] | None
    fault_code: int | None
    fault_string: str | None
    status: int


def value_xml(value: object) -> str:
    if isinstance(value, Raw):
        return f"<value>{value.xml}</value>"
    if value is None:
        return "<value><nil/></value>"
    if isinstance(value, bool):
        return f"<value><boolean>{int(value)}</boolean></value>"
    if isinstance(value, int):
        tag = "int" if -(2**31) <= value < 2**31 else "i8" if -(2**63) <= value < 2**63 else "biginteger"
        return f"<value><{tag}>{value}</{tag}></value>"
    if isinstance(value, float):
        return f"<value><double>{value!r}</double></value>"
    if isinstance(value, str):
        return f"<value><string>{escape(value)}</string></value>"
    if isinstance(value, bytes):
        return f"<value><base64>{base64.b64encode(value).decode()}</base64></value>"
    if isinstance(value, datetime):
        return f"<value><dateTime.iso8601>{value.year:04d}{value.strftime('%m%dT%H:%M:%S')}</dateTime.iso8601></value>"
    if isinstance(value, list | tuple):
        return "<value><array><data>" + "".join(value_xml(item) for item in value) + "</data></array></value>"
    if isinstance(value, dict):
        members = "".join(
            f"<member><name>{escape(str(key))}</name>{value_xml(item)}</member>" for key, item in value.items()
        )
        return f"<value><struct>{members}</struct></value>"
    raise TypeError(f"no XML-RPC form for {type(value).__name__}")


def call_body(
    method: str, params: dict[str, Any], *, declaration: str = "<?xml version='1.0'?>", encoding: str = "utf-8"
) -> bytes:
    return (
        f"{declaration}<methodCall><methodName>{method}</methodName>"
        f"<params><param>{value_xml(params)}</param></params></methodCall>"
    ).encode(encoding, "xmlcharrefreplace")


def nested_array(depth: int) -> Raw:
    """An array nested ``depth`` levels deep around one string."""
    opening, closing = "<array><data><value>", "</value></data></array>"
    return Raw(opening * depth + "x" + closing * depth)


def with_auth(params: dict[str, Any]) -> dict[str, Any]:
    return {"authenticationUser": EXTERNAL_USER, "authenticationPassword": EXTERNAL_PASSWORD, **params}


class RawClient:
    """Posts hand-written bodies to /RPC2 over one HTTPS keep-alive connection (``http.client``: a tenth of
    httpx's per-request cost, which matters for the thousands of calls of the catch-all sweep)."""

    def __init__(self, bridge: Bridge) -> None:
        self._connection = http.client.HTTPSConnection("127.0.0.1", bridge.https_port, context=bridge.ssl_context())

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._connection.close()

    def _exchange(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
        self._connection.request("POST", "/RPC2", body, {"content-type": "text/xml"})
        response = self._connection.getresponse()
        return response, response.read()

    def post(self, body: bytes) -> Outcome:
        try:
            response, content = self._exchange(body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle keep-alive connection (its keep-alive timeout) before reading this
            # request: send it again on a new connection, as any HTTP client does.
            self._connection.close()
            response, content = self._exchange(body)
        if not (response.getheader("content-type") or "").startswith("text/xml"):
            return Outcome(None, None, None, response.status)
        try:
            params, _method = xmlrpc.client.loads(content, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            return Outcome(None, fault.faultCode, fault.faultString, response.status)
        first = params[0] if params else None
        return Outcome(first if isinstance(first, dict) else None, None, None, response.status)

    def call(self, method: str, **params: Any) -> Outcome:
        return self.post(call_body(method, with_auth(params)))

    def ok(self, method: str, **params: Any) -> dict[str, Any]:
        outcome = self.call(method, **params)
        assert outcome.result is not None, (method, outcome)
        return outcome.result
