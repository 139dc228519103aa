"""Hostile and malformed /RPC2 bodies: each gets a specific answer, never a 500 or exception text."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support.bridge import EXTERNAL_PASSWORD, EXTERNAL_USER, Bridge, auth
from tests.support.clients import Reply, curl_post, decode

BASIC = (EXTERNAL_USER, EXTERNAL_PASSWORD)
LIMIT = 64 * 1024
# Words that only appear when Python exception text leaks into a reply.
LEAK_MARKERS = ("Traceback", "Error:", "Exception", "expat", "line 1", "column", "defusedxml", "pydantic")


def _call(method: str, params: dict[str, object]) -> bytes:
    return xmlrpc.client.dumps((params,), method).encode()


@pytest.fixture(scope="module")
def client(bridge: Bridge) -> Iterator[httpx.Client]:
    with bridge.client(auth=BASIC) as instance:
        yield instance


def _post(client: httpx.Client, body: bytes, **kwargs: object) -> Reply:
    response = client.post("/RPC2", content=body, headers={"content-type": "text/xml"}, **kwargs)  # type: ignore[arg-type]
    return decode(response.status_code, dict(response.headers), response.content)


def _assert_no_leak(reply: Reply) -> None:
    text = reply.body.decode(errors="replace")
    for marker in LEAK_MARKERS:
        assert marker not in text, text


DTD_BODIES = {
    "billion-laughs": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<methodCall><methodName>device.query</methodName><params><param><value><string>&lol3;</string></value></param></params>
</methodCall>""",
    "xxe-file": b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>device.query</methodName><params><param><value><string>&xxe;</string></value></param></params>
</methodCall>""",
    "external-dtd": b"""<?xml version="1.0"?>
<!DOCTYPE methodCall SYSTEM "http://127.0.0.1:9/evil.dtd">
<methodCall><methodName>device.query</methodName><params/></methodCall>""",
    "plain-doctype": b"""<?xml version="1.0"?><!DOCTYPE methodCall>
<methodCall><methodName>device.query</methodName><params/></methodCall>""",
}


@pytest.mark.parametrize("body", DTD_BODIES.values(), ids=DTD_BODIES.keys())
def test_any_dtd_is_refused_with_fault_103(client: httpx.Client, body: bytes) -> None:
    reply = _post(client, body)
    assert reply.status == 200
    assert reply.fault_code == 103
    assert reply.fault_string == "malformed parameter - request body (DTDs and entities are refused)"
    assert b"root:" not in reply.body
    _assert_no_leak(reply)


GARBAGE = {
    "empty": b"",
    "not-xml": b"hello world",
    "truncated": _call("device.query", auth())[:-20],
    "json": b'{"method": "device.query"}',
    "binary": bytes(range(256)),
    "wrong-root": b"<?xml version='1.0'?><html><body/></html>",
    "bad-int": b"<methodCall><methodName>device.query</methodName><params><param><value><int>abc</int></value>"
    b"</param></params></methodCall>",
    "bad-base64": b"<methodCall><methodName>device.query</methodName><params><param><value><base64>@@@</base64>"
    b"</value></param></params></methodCall>",
    "bad-date": b"<methodCall><methodName>device.query</methodName><params><param><value>"
    b"<dateTime.iso8601>yesterday</dateTime.iso8601></value></param></params></methodCall>",
    "method-response-as-call": xmlrpc.client.dumps(({"a": 1},), methodresponse=True).encode(),
    "fault-as-call": xmlrpc.client.dumps(xmlrpc.client.Fault(4, "x"), methodresponse=True).encode(),
    "two-params": xmlrpc.client.dumps(({}, {}), "device.query").encode(),
    "array-param": xmlrpc.client.dumps(([1, 2],), "device.query").encode(),
    "string-param": xmlrpc.client.dumps(("x",), "device.query").encode(),
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_malformed_bodies_are_fault_103(client: httpx.Client, body: bytes) -> None:
    reply = _post(client, body)
    assert reply.status == 200
    assert reply.fault_code == 103
    assert reply.fault_string is not None
    assert reply.fault_string.startswith("malformed parameter - ")
    _assert_no_leak(reply)


def test_unknown_method_is_fault_1(client: httpx.Client) -> None:
    reply = _post(client, _call("device.selfDestruct", {}))
    assert (reply.status, reply.fault_code, reply.fault_string) == (200, 1, "method not supported")


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 10**30])
def test_huge_integers_are_fault_103_naming_the_member(client: httpx.Client, value: int) -> None:
    body = (
        "<methodCall><methodName>device.query</methodName><params><param><value><struct>"
        f"<member><name>cookie</name><value><int>{value}</int></value></member>"
        "</struct></value></param></params></methodCall>"
    ).encode()
    reply = _post(client, body)
    assert (reply.status, reply.fault_code, reply.fault_string) == (200, 103, "malformed parameter - cookie")


def test_in_range_integers_of_unknown_members_are_ignored(client: httpx.Client) -> None:
    reply = _post(client, _call("device.query", {"cookie": 2**31 - 1, "other": "x"}))
    assert reply.result is not None


def test_wrong_types_on_a_typed_method_name_the_member(client: httpx.Client) -> None:
    """conference.create needs a string conferenceName: an int is malformed (103), missing is 101."""
    wrong = _post(client, _call("conference.create", {"conferenceName": 42}))
    assert (wrong.fault_code, wrong.fault_string) == (103, "malformed parameter - conferenceName")
    missing = _post(client, _call("conference.create", {}))
    assert missing.fault_code in (8, 101)


def test_oversized_body_with_content_length_is_413_json(client: httpx.Client) -> None:
    body = _call("device.query", {"pad": "x" * (LIMIT + 1)})
    response = client.post("/RPC2", content=body)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large", "limit_bytes": LIMIT}


def test_oversized_chunked_body_is_413_json(client: httpx.Client) -> None:
    body = _call("device.query", {"pad": "x" * (LIMIT + 1)})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = client.post("/RPC2", content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["error"] == "request body too large"


def test_oversized_body_with_curl_is_413(bridge: Bridge) -> None:
    reply = curl_post(bridge, f"{bridge.https_url}/RPC2", b"<" * (LIMIT + 10), basic=BASIC)
    assert reply.status == 413
    assert reply.json()["limit_bytes"] == LIMIT


def test_body_just_under_the_limit_is_served(client: httpx.Client) -> None:
    skeleton = len(_call("device.query", {"pad": ""}))
    reply = _post(client, _call("device.query", {"pad": "x" * (LIMIT - skeleton)}))
    assert reply.status == 200
    assert reply.result is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=2048),
        st.text(max_size=512).map(str.encode),
        st.builds(
            lambda inner: (
                b"<methodCall><methodName>device.query</methodName><params><param><value>"
                + inner
                + b"</value></param></params></methodCall>"
            ),
            st.binary(max_size=256),
        ),
    )
)
def test_arbitrary_bytes_never_cause_a_server_error(client: httpx.Client, body: bytes) -> None:
    reply = _post(client, body)
    assert reply.status == 200 or 400 <= reply.status < 500, reply
    if reply.status == 200:
        assert reply.fault_code is not None or reply.result is not None
    _assert_no_leak(reply)
