"""/RPC2 authentication: listener x enable_http_access x credential carrier x right/wrong credentials.

Each row is one real request to a real server, made by xmlrpc.client (as CUCM would), httpx or curl in
turn, over HTTPS verified against the generated certificate or over plain HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from tests.support.bridge import EXTERNAL_PASSWORD, EXTERNAL_USER, KNOWN_SECRETS, Bridge, auth
from tests.support.clients import CLIENT_KINDS, ClientKind, Reply, curl_post, post_rpc

Credential = tuple[str, str]

RIGHT: Credential = (EXTERNAL_USER, EXTERNAL_PASSWORD)
WRONG_CREDENTIALS: dict[str, Credential] = {
    "wrong-password": (EXTERNAL_USER, "not-the-password"),
    "unknown-user": ("someone-else", EXTERNAL_PASSWORD),
    "user-case": ("CUCM-ext", EXTERNAL_PASSWORD),
    "password-case": (EXTERNAL_USER, EXTERNAL_PASSWORD.swapcase()),
    "empty": ("", ""),
}
CREDENTIALS: dict[str, Credential] = {"right": RIGHT, **WRONG_CREDENTIALS}
KNOWN_SECRETS.update({"not-the-password", EXTERNAL_PASSWORD.swapcase()})

Expected = Literal["ok", "fault15", "401", "403"]


@dataclass(frozen=True)
class Case:
    carrier: Literal["body", "basic", "both", "none"]
    body: str | None = None
    basic: str | None = None

    @property
    def name(self) -> str:
        return "-".join(part for part in (self.carrier, self.body, self.basic) if part)

    def expected(self) -> Expected:
        if self.carrier == "none":
            return "401"
        if self.basic is not None and self.basic != "right":
            return "401"
        if self.body is not None and self.body != "right":
            return "fault15"
        return "ok"


CASES = [
    *(Case("body", body=name) for name in CREDENTIALS),
    *(Case("basic", basic=name) for name in CREDENTIALS),
    Case("both", body="right", basic="right"),
    *(Case("both", body="right", basic=name) for name in WRONG_CREDENTIALS),
    *(Case("both", body=name, basic="right") for name in WRONG_CREDENTIALS),
    Case("none"),
]


def _matrix() -> list[object]:
    rows: list[object] = []
    for listener in ("https", "http"):
        for http_access in (False, True):
            for index, case in enumerate(CASES):
                client = CLIENT_KINDS[index % len(CLIENT_KINDS)]
                row_id = f"{listener}-access_{'on' if http_access else 'off'}-{case.name}-{client}"
                rows.append(pytest.param(listener, http_access, case, client, id=row_id))
    return rows


def _bridge_for(request: pytest.FixtureRequest, http_access: bool) -> Bridge:
    bridge: Bridge = request.getfixturevalue("http_bridge" if http_access else "bridge")
    return bridge


def _send(bridge: Bridge, case: Case, client: ClientKind, *, http: bool) -> Reply:
    params = {} if case.body is None else auth(*CREDENTIALS[case.body])
    basic = None if case.basic is None else CREDENTIALS[case.basic]
    return post_rpc(client, bridge, "device.query", params, http=http, basic=basic)


@pytest.mark.parametrize(("listener", "http_access", "case", "client"), _matrix())
def test_authentication_matrix(
    request: pytest.FixtureRequest, listener: str, http_access: bool, case: Case, client: ClientKind
) -> None:
    bridge = _bridge_for(request, http_access)
    reply = _send(bridge, case, client, http=listener == "http")

    expected: Expected = "403" if listener == "http" and not http_access else case.expected()
    if expected == "403":
        assert reply.status == 403
        if client != "xmlrpc":  # xmlrpc.client drops the body of an error reply
            assert "HTTP access for external systems is disabled" in reply.json()["error"]
    elif expected == "401":
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == 'Basic realm="adhoc-bridge"'
        if client != "xmlrpc":
            assert reply.fault_code == 15
            assert reply.fault_string == "insufficient privileges"
    elif expected == "fault15":
        assert (reply.status, reply.fault_code, reply.fault_string) == (200, 15, "insufficient privileges")
        assert reply.result is None
    else:
        assert reply.status == 200, reply
        assert reply.result is not None
        assert reply.result["apiVersion"] == "2.9"


@pytest.mark.parametrize("client", CLIENT_KINDS)
def test_http_listener_refuses_before_reading_credentials_even_a_malformed_basic_header(
    bridge: Bridge, client: ClientKind
) -> None:
    """With HTTP access off, the 403 comes first: not a 401 for a bad header, not a fault for bad XML."""
    reply = post_rpc(client, bridge, "device.query", auth(), http=True, headers=None)
    assert reply.status == 403
    garbage = curl_post(bridge, f"{bridge.http_url}/RPC2", b"<not xml", headers={"Authorization": "Basic !!!"})
    assert garbage.status == 403
    assert "disabled" in garbage.json()["error"]


def test_non_string_in_body_credentials_are_fault_15(bridge: Bridge) -> None:
    reply = post_rpc("httpx", bridge, "device.query", {"authenticationUser": 7, "authenticationPassword": True})
    assert (reply.status, reply.fault_code) == (200, 15)


def test_password_without_user_is_fault_15(bridge: Bridge) -> None:
    reply = post_rpc("httpx", bridge, "device.query", {"authenticationPassword": EXTERNAL_PASSWORD})
    assert (reply.status, reply.fault_code) == (200, 15)


def test_malformed_basic_header_is_401(bridge: Bridge) -> None:
    for header in ("Basic !!!notbase64", "Bearer abc", "Basic " + "dXNlcm5vY29sb24=", "Basic"):
        reply = post_rpc("httpx", bridge, "device.query", auth(), headers={"Authorization": header})
        assert reply.status == 401, header
        assert reply.fault_code == 15


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_rpc2_takes_only_post(bridge: Bridge, method: str) -> None:
    with bridge.client(auth=RIGHT) as client:
        response = client.request(method, "/RPC2")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "XML-RPC calls are POSTed to /RPC2"}
