"""The hand-written encoder and call reader give exactly what xmlrpc.client gives, and refuse the same."""

from __future__ import annotations

import xmlrpc.client
from datetime import datetime
from typing import Any

import pytest
from defusedxml import DefusedXmlException
from hypothesis import given, settings, strategies as st

from app.xmlrpc import codec
from app.xmlrpc.call_reader import FaultDocument, NotACall, read_call
from app.xmlrpc.codec import INT32_MAX, INT32_MIN, encode_result, parse_call
from app.xmlrpc.faults import FaultCode, McuFault

# Text XML can carry: no control characters, surrogates or U+FFFE/U+FFFF, and no CR (XML reads it as LF).
_XML_CHARACTERS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\ufffe\uffff")
_XML_TEXT = st.text(
    _XML_CHARACTERS | st.sampled_from("\t\n<>&'\""),
    max_size=20,
)
_SCALARS = (
    _XML_TEXT
    | st.integers(INT32_MIN, INT32_MAX)
    | st.booleans()
    | st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda moment: moment.replace(microsecond=0))
    | st.floats(allow_nan=False)
    | st.binary(max_size=16)
)
VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_XML_TEXT, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_XML_TEXT, VALUES, max_size=6))
def test_encoded_replies_are_byte_for_byte_the_standard_librarys(result: dict[str, Any]) -> None:
    assert encode_result(result) == xmlrpc.client.dumps((result,), methodresponse=True).encode()


@pytest.mark.parametrize(
    ("result", "sent"),
    [
        ({"n": INT32_MAX + 1, "ok": 1}, {"ok": 1}),
        ({"n": INT32_MIN - 1}, {}),
        ({1: "x", "y": "z"}, {"y": "z"}),
        ({"x": None, "list": [1, None, 2]}, {"list": [1, 2]}),
        ({"records": [{"pin": None, "name": "a"}, {"name": "b"}]}, {"records": [{"name": "a"}, {"name": "b"}]}),
    ],
)
def test_encoder_leaves_out_what_xml_rpc_cannot_carry_and_says_so(
    result: dict[Any, Any], sent: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A stored value an earlier version let in must not turn a whole reply (an enumerate page) into a fault."""
    codec._dropped_reports.next_at = 0.0
    with caplog.at_level("WARNING", logger="adhoc.xmlrpc"):
        assert encode_result(result) == xmlrpc.client.dumps((sent,), methodresponse=True).encode()
    assert [record.getMessage() for record in caplog.records] == [
        "reply members that XML-RPC cannot carry were left out"
    ]


def test_left_out_members_are_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    codec._dropped_reports.next_at = 0.0
    with caplog.at_level("WARNING", logger="adhoc.xmlrpc"):
        for _ in range(50):
            encode_result({"x": None})
    assert len(caplog.records) == 1


def _standard(body: bytes) -> tuple[str | None, list[Any]]:
    params, method = xmlrpc.client.loads(body, use_builtin_types=True)
    return method, list(params)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=3), st.from_regex(r"\A[a-z]{1,12}(\.[a-z]{1,12}){0,2}\Z"))
def test_calls_read_as_the_standard_library_reads_them(params: list[Any], method: str) -> None:
    body = xmlrpc.client.dumps(tuple(params), method).encode()
    assert read_call(body) == _standard(body)


def _one_value(value_xml: str) -> bytes:
    return f"<methodCall><methodName>m</methodName><params><param>{value_xml}</param></params></methodCall>".encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_one_value("<value>bare</value>"), ["bare"]),
        (_one_value("<value/>"), [""]),
        (_one_value("<value><i8>5</i8></value>"), [5]),
        (_one_value("<value><ex:nil xmlns:ex='x'/></value>"), [None]),
        (b"<methodCall><methodName>m</methodName><extra/><params/></methodCall>", []),
    ],
)
def test_tolerated_shapes_read_like_the_standard_library(body: bytes, expected: list[Any]) -> None:
    assert read_call(body) == ("m", expected)
    assert _standard(body) == ("m", expected)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e "x">]><methodCall/>', DefusedXmlException),
        (b"<methodResponse><fault><value><struct/></value></fault></methodResponse>", FaultDocument),
        (b"<methodCall><params><param><value><bogus/></value></param></params></methodCall>", NotACall),
        (b"<methodCall><params><param><value><boolean>2</boolean></value></param></params></methodCall>", NotACall),
        (
            b"<methodCall><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodCall>",
            NotACall,
        ),
    ],
)
def test_refused_documents_raise(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        read_call(body)


def test_parse_call_maps_each_refusal_to_fault_103() -> None:
    for body in (b"", b"<methodCall>", b"<methodCall><params/></methodCall>", b"<a><b></a>"):
        with pytest.raises(McuFault) as caught:
            parse_call(body)
        assert caught.value.code == FaultCode.MALFORMED_PARAMETER


def test_a_finished_struct_is_encoded_once_and_as_a_plain_struct_is() -> None:
    members = {"currentTime": datetime(2026, 12, 2, 6, 30, 1), "serial": "AB<&>", "ports": 1000, "ok": True}
    finished = codec.FinishedStruct(members)
    first = encode_result(finished)
    assert first == encode_result(dict(members)) == xmlrpc.client.dumps((members,), methodresponse=True).encode()
    assert encode_result(finished) is first
