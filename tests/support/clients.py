"""One XML-RPC POST made by any of the three clients CUCM-like callers use: xmlrpc.client, httpx or curl.

Every client answers with the same ``Reply`` so a test can run one expectation against all of them.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.parse
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from tests.support.bridge import Bridge

ClientKind = Literal["xmlrpc", "httpx", "curl"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("xmlrpc", "httpx", "curl")


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    result: dict[str, Any] | None = None
    fault_code: int | None = None
    fault_string: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


def decode(status: int, headers: dict[str, str], body: bytes) -> Reply:
    reply = Reply(status, {key.lower(): value for key, value in headers.items()}, body)
    if reply.headers.get("content-type", "").startswith("text/xml"):
        try:
            params, _method = xmlrpc.client.loads(body, use_builtin_types=True)
            first = params[0] if params else None
            reply.result = first if isinstance(first, dict) else None
        except xmlrpc.client.Fault as fault:
            reply.fault_code, reply.fault_string = fault.faultCode, fault.faultString
    return reply


def post_rpc(
    kind: ClientKind,
    bridge: Bridge,
    method: str,
    params: dict[str, Any],
    *,
    http: bool = False,
    basic: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/RPC2",
) -> Reply:
    body = xmlrpc.client.dumps((params,), method).encode()
    base = bridge.http_url if http else bridge.https_url
    if kind == "xmlrpc":
        return _via_xmlrpc(bridge, base, method, params, http=http, basic=basic, path=path)
    if kind == "httpx":
        with bridge.client(http=http) as client:
            response = client.post(
                path,
                content=body,
                auth=httpx.USE_CLIENT_DEFAULT if basic is None else basic,
                headers={"content-type": "text/xml", **(headers or {})},
            )
        return decode(response.status_code, dict(response.headers), response.content)
    return curl_post(bridge, f"{base}{path}", body, basic=basic, headers=headers)


def _via_xmlrpc(
    bridge: Bridge,
    base: str,
    method: str,
    params: dict[str, Any],
    *,
    http: bool,
    basic: tuple[str, str] | None,
    path: str = "/RPC2",
) -> Reply:
    url = f"{base}{path}"
    if basic is not None:
        user, password = (urllib.parse.quote(part, safe="") for part in basic)
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://{user}:{password}@{rest}"
    kwargs: dict[str, Any] = {} if http else {"context": bridge.ssl_context()}
    try:
        with xmlrpc.client.ServerProxy(url, **kwargs) as proxy:
            result = getattr(proxy, method)(params)
    except xmlrpc.client.Fault as fault:
        return Reply(200, fault_code=fault.faultCode, fault_string=fault.faultString)
    except xmlrpc.client.ProtocolError as error:
        return Reply(error.errcode, headers={key.lower(): value for key, value in error.headers.items()})
    return Reply(200, result=result)


def curl_post(
    bridge: Bridge,
    url: str,
    body: bytes,
    *,
    basic: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Reply:
    with tempfile.TemporaryDirectory() as scratch:
        head, out = Path(scratch) / "head", Path(scratch) / "body"
        command = ["curl", "-sS", "--cacert", str(bridge.cert_path), "-D", str(head), "-o", str(out)]
        command += ["-w", "%{http_code}", "-H", "Content-Type: text/xml", "-H", "Expect:", "--data-binary", "@-"]
        if basic is not None:
            command += ["-u", f"{basic[0]}:{basic[1]}"]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        command += [*extra_args, url]
        done = subprocess.run(command, input=body, capture_output=True, check=True, timeout=30)
        status = int(done.stdout.decode())
        parsed: dict[str, str] = {}
        for line in head.read_text(errors="replace").splitlines()[1:]:
            name, sep, value = line.partition(":")
            if sep:
                parsed[name.strip().lower()] = value.strip()
        return decode(status, parsed, out.read_bytes() if out.exists() else b"")
