"""SIP message parser robustness, framing, URIs and settings validation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from app.sip.message import (
    Request,
    Response,
    SipParseError,
    StreamFramer,
    canonical_name,
    parse_message,
    split_comma_list,
)
from app.sip.settings import SipSettings
from app.sip.uri import SipUriError, parse_uri

RESP = (
    b"SIP/2.0 401 Unauthorized\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bKabc, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef\r\n"
    b"f: <sip:a@b>;tag=1\r\n"
    b"t: <sip:a@b>;tag=2\r\n"
    b"i: call-1@host\r\n"
    b"CSeq: 7 register\r\n"
    b'WWW-Authenticate: Digest realm="A",\r\n'
    b' nonce="n1"\r\n'
    b'www-authenticate: Digest realm="B", nonce="n2"\r\n'
    b"l: 4\r\n"
    b"\r\n"
    b"bodyEXTRA"
)


def test_parse_response_compact_forms_folding_and_rows() -> None:
    msg = parse_message(RESP)
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (401, "Unauthorized")
    assert msg.call_id == "call-1@host"
    assert msg.cseq == (7, "REGISTER")
    assert msg.top_via_branch == "z9hG4bKabc"
    assert msg.headers.get_all("WWW-Authenticate") == ['Digest realm="A", nonce="n1"', 'Digest realm="B", nonce="n2"']
    assert msg.body == b"body"


def test_parse_request_and_roundtrip() -> None:
    req = parse_message(b"OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCSeq: 1 OPTIONS\n\nhi")
    assert isinstance(req, Request)
    assert (req.method, req.uri, req.body) == ("OPTIONS", "sip:x@y", b"hi")
    again = parse_message(req.to_bytes())
    assert isinstance(again, Request)
    assert again.headers.get("Content-Length") == "2"
    assert again.body == b"hi"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"garbage",
        b"SIP/2.0 99 Bad\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"SIP/2.0 200 OK\r\nContent-Length: x\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\nab",
        b"SIP/2.0 200 OK\r\n folded-first\r\n\r\n",
        b"SIP/2.0 200 OK\r\nno colon\r\n\r\n",
        b"SIP/2.0 200 OK\r\nBad Name: x\r\n\r\n",
        b"SIP/2.0 200 OK\r\nX: \xff\xfe\r\n\r\n",
        b"INVITE  sip:x SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nX: a\x00b\r\n\r\n",
        b"SIP/2.0 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n",
        b"SIP/2.0 200 OK\r\n" + b"X" * 70000 + b"\r\n\r\n",
    ],
)
def test_malformed_raise_only_parse_error(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse_message(data)


def test_stream_requires_content_length() -> None:
    with pytest.raises(SipParseError):
        parse_message(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", stream=True)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_message(data)


_line = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)


@settings(max_examples=400, deadline=None)
@given(
    start=st.sampled_from(["SIP/2.0 200 OK", "SIP/2.0 401 Unauthorized", "REGISTER sip:a SIP/2.0", "SIP/2.0 abc"]),
    rows=st.lists(st.tuples(st.sampled_from(["Via", "v", "CSeq", "Content-Length", "l", "X", " ", ""]), _line)),
    body=st.binary(max_size=50),
    sep=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_fuzz_structured(start: str, rows: list[tuple[str, str]], body: bytes, sep: str) -> None:
    text = sep.join([start] + [f"{n}:{v}" for n, v in rows]) + sep + sep
    try:
        msg = parse_message(text.encode() + body)
    except SipParseError:
        return
    # accessors never raise on whatever was accepted
    _ = (msg.cseq, msg.top_via, msg.top_via_branch, msg.call_id)
    if isinstance(msg, Response):
        _ = msg.status_line


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_fuzz_stream_framer(chunks: list[bytes]) -> None:
    framer = StreamFramer()
    try:
        for c in chunks:
            for raw in framer.feed(c):
                with contextlib.suppress(SipParseError):
                    parse_message(raw, stream=True)
    except SipParseError:
        pass


def test_stream_framer_splits_and_keeps_partial() -> None:
    framer = StreamFramer()
    one = b"SIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    two = b"SIP/2.0 100 Trying\r\nl: 0\r\n\r\n"
    assert list(framer.feed(b"\r\n" + one + two[:10])) == [one]
    assert list(framer.feed(two[10:])) == [two]


def test_canonical_names_and_comma_split() -> None:
    assert canonical_name("i") == "Call-ID"
    assert canonical_name("WWW-AUTHENTICATE") == "WWW-Authenticate"
    assert canonical_name("proxy-authorization") == "Proxy-Authorization"
    assert split_comma_list('<sip:a,b@x>;p="1,2", SIP/2.0/UDP h') == ['<sip:a,b@x>;p="1,2"', "SIP/2.0/UDP h"]


def test_uri_parsing() -> None:
    u = parse_uri("sip:registrar.example.com:5060;transport=udp")
    assert (u.host, u.port, u.transport, u.user) == ("registrar.example.com", 5060, "udp", None)
    assert str(u) == "sip:registrar.example.com:5060;transport=udp"
    v6 = parse_uri("sip:1234@[2001:db8::1]:5070")
    assert (v6.user, v6.host, v6.port, v6.host_for_uri) == ("1234", "2001:db8::1", 5070, "[2001:db8::1]")
    for bad in [
        "http://x",
        "sip:",
        "sip:host:99999",
        "sip:ho st",
        "sip:[zz::1]",
        "sip:a@b?x=y",
        "sip:h;transport=sctp",
    ]:
        with pytest.raises(SipUriError):
            parse_uri(bad)


def test_settings_defaults_and_domain() -> None:
    s = SipSettings()
    assert (s.registrar, s.local_host, s.local_port, s.transport, s.register_expires) == (
        None,
        "127.0.0.1",
        5060,
        "udp",
        3600,
    )
    assert s.effective_domain is None
    s = SipSettings(registrar="sip:registrar.example.com:5060;transport=tcp")
    assert s.effective_domain == "registrar.example.com"
    assert s.registrar_uri is not None
    assert s.transport_for(s.registrar_uri) == "tcp"
    assert SipSettings(registrar="sip:r.example.com", domain="example.com").effective_domain == "example.com"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"registrar": "http://registrar.example.com"},
        {"registrar": "sip:bad host"},
        {"registrar": "sips:r.example.com"},
        {"outbound_proxy": "sip:p.example.com:0"},
        {"register_expires": 10},
        {"register_expires": 10**6},
        {"min_digest_algorithm": "SHA-1"},
        {"transport": "sctp"},
        {"domain": "not a domain"},
        {"unknown": 1},
    ],
)
def test_settings_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SipSettings.model_validate(kwargs)


def test_settings_error_message_is_clear() -> None:
    with pytest.raises(ValidationError, match="invalid SIP URI 'http://x'"):
        SipSettings(registrar="http://x")
