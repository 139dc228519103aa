"""The fast call reader gives exactly what the defused reader gives, or declines; it takes the typical bodies.

The differential test builds calls the way ``xmlrpc.client.dumps`` does (with ints of any size), mutates
the bytes the ways clients and attackers do, and compares ``read_call`` with ``read_call_defused``: the
same (method, params) by ``repr`` (so ``True`` is not ``1``), or the same fault through ``parse_call``.
"""

from __future__ import annotations

import importlib
import xmlrpc.client
from collections.abc import Callable
from datetime import datetime
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings, strategies as st

from app.xmlrpc import codec
from app.xmlrpc.call_reader import read_call, read_call_defused
from app.xmlrpc.codec import parse_call
from app.xmlrpc.fast_call import PATTERNS, read_call_fast
from app.xmlrpc.faults import McuFault

Reader = Callable[[bytes], tuple[str | None, list[Any]]]


def _dump_int(marshaller: xmlrpc.client.Marshaller, value: int, write: Callable[[str], Any]) -> None:
    write(f"<value><int>{value}</int></value>\n")


class _AnyIntMarshaller(xmlrpc.client.Marshaller):
    """The standard marshaller, but ints beyond 32 bits are written too (a client may send them)."""


_AnyIntMarshaller.dispatch = {**xmlrpc.client.Marshaller.dispatch, int: _dump_int}


def _call(params: tuple[Any, ...], method: str) -> bytes:
    """What ``xmlrpc.client.dumps(params, methodname=method)`` writes (the method name unescaped, as there)."""
    data = _AnyIntMarshaller("utf-8", False).dumps(params)
    return f"<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n{data}</methodCall>\n".encode()


def _outcome(reader: Reader, body: bytes) -> tuple[Any, ...]:
    """("value", repr) or ("fault", code, string) as parse_call would turn this reader's error into."""
    try:
        return ("value", repr(reader(body)))
    except Exception:
        with patch.object(codec, "read_call", reader), pytest.raises(McuFault) as raised:
            parse_call(body)
        return ("fault", int(raised.value.code), raised.value.fault_string)


def _assert_same(body: bytes) -> None:
    assert _outcome(read_call, body) == _outcome(read_call_defused, body)


_CHARS = st.characters(codec="utf-8") | st.sampled_from(
    "&<>\"';]\r\n\t \x00\x01\x0b\x0c\x1f\x7f\x85\xa0\u2028\u3000\ufeff\ufffe\uffff\U0001f600\U0010ffff"
)
_TEXT = st.text(_CHARS, max_size=12)
_SCALARS = (
    _TEXT
    | st.integers(-(2**31), 2**31 - 1)
    | st.integers(-(2**70), 2**70)
    | st.booleans()
    | st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda moment: moment.replace(microsecond=0))
)
_VALUES = (
    _SCALARS
    | st.lists(_SCALARS, max_size=4)
    | st.dictionaries(_TEXT, _SCALARS, max_size=4)
    | st.recursive(
        _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8
    )
)
_ONE_STRUCT = st.dictionaries(_TEXT, _VALUES, max_size=6).map(lambda struct: (struct,))
_PARAMS = st.one_of(_ONE_STRUCT, _ONE_STRUCT, st.lists(_VALUES, max_size=3).map(tuple))  # mostly the usual shape
_METHODS = st.from_regex(r"\A[a-z]{1,8}(\.[a-zA-Z]{1,10})?\Z") | _TEXT

_HEADER = b"<?xml version='1.0'?>\n"
_PIECES = [
    *(b"<", b"&", b"\r", b"\r\n", b"\x00", b"\x01", b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xef\xbf\xbe", b"\xc2\xa0"),
    *(b" ", b"\t", b"\n", b"\x0b", b"]]>", b"&amp;", b"&lt;", b"&quot;", b"&#65;", b"&#x41;", b"&e;", b"&amp"),
    *(b"<!-- c -->", b"<?pi x?>", b"<![CDATA[x]]>", b"<!DOCTYPE a>", b'<a b="c">', b"<a/>", b"x"),
    *(b"<value>", b"</value>", b"<struct>", b"</struct>", b"<member>", b"</member>", b"<string>", b"<nil/>"),
    *(b' a="1"', b"/", b" xmlns:ex='x'"),
]


def _mutate(body: bytes, kind: str, at: int, piece: bytes) -> bytes:
    at %= len(body) + 1
    ends = [index for index, byte in enumerate(body) if byte == ord(">")] or [0]
    tag_end = ends[at % len(ends)]
    edits: dict[str, Callable[[], bytes]] = {
        "crlf": lambda: body.replace(b"\n", b"\r\n"),
        "cr": lambda: body.replace(b"\n", b"\r"),
        "flat": lambda: body.replace(b"\n", b""),
        "java": lambda: body.replace(_HEADER, b'<?xml version="1.0" encoding="UTF-8"?>').replace(b"\n", b""),
        "lower": lambda: body.replace(_HEADER, b"<?xml version='1.0' encoding='utf-8'?>\n"),
        "nodecl": lambda: body.removeprefix(_HEADER),
        "lead": lambda: b" \n\t" + body,
        "indent": lambda: body.replace(b"\n", b"\n  \t"),
        "bare": lambda: body.replace(b"<string>", b"").replace(b"</string>", b""),
        "i4": lambda: body.replace(b"int>", b"i4>"),
        "insert": lambda: body[:at] + piece + body[at:],
        "after-tag": lambda: body[: tag_end + 1] + piece + body[tag_end + 1 :],
        "in-tag": lambda: body[:tag_end] + piece + body[tag_end:],
        "flip": lambda: body[:at] + bytes([(body[at:] or b"\0")[0] ^ (piece or b"\1")[0]]) + body[at + 1 :],
        "truncate": lambda: body[:at],
        "delete": lambda: body[:at] + body[at + 1 :],
    }
    return edits[kind]()


_KINDS = ["crlf", "cr", "flat", "java", "lower", "nodecl", "lead", "indent", "bare", "i4", "insert", "after-tag"]
_MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from([*_KINDS, "in-tag", "flip", "truncate", "delete"]),
        st.integers(0, 2**16),
        st.sampled_from(_PIECES),
    ),
    max_size=3,
)


@settings(max_examples=1500, deadline=None)
@given(_PARAMS, _METHODS, _MUTATIONS)
def test_the_fast_reader_reads_what_the_defused_reader_reads(
    params: tuple[Any, ...], method: str, mutations: list[tuple[str, int, bytes]]
) -> None:
    body = _call(params, method)
    for kind, at, piece in mutations:
        body = _mutate(body, kind, at, piece)
    _assert_same(body)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _SCALARS | st.lists(_SCALARS, max_size=3), max_size=8))
def test_random_structs_of_scalars_are_read_by_the_fast_reader_when_xml_can_carry_them(struct: dict[str, Any]) -> None:
    body = _call((struct,), "m")
    _assert_same(body)
    expected = read_call_defused(body) if _outcome(read_call_defused, body)[0] == "value" else None
    if expected is not None and all(isinstance(value, str | bool | datetime | list) for value in struct.values()):
        assert repr(read_call_fast(body)) == repr(expected)


def _struct(*members: tuple[str, str], method: str = "m") -> bytes:
    inner = "".join(f"<member><name>{name}</name><value>{value}</value></member>" for name, value in members)
    return (
        f"<methodCall><methodName>{method}</methodName><params><param><value><struct>{inner}</struct></value>"
        "</param></params></methodCall>"
    ).encode()


def _one(value: str) -> bytes:
    """A struct whose member ``a`` holds ``value``, then a plain member."""
    return _struct(("a", value), ("b", "<string>x</string>"))


_DEVICE_QUERY = xmlrpc.client.dumps(
    ({"authenticationUser": "cucm-bench", "authenticationPassword": "bench-Ext-pa55"},), methodname="device.query"
).encode()
_CONFERENCE_CREATE = xmlrpc.client.dumps(
    (
        {
            "authenticationUser": "cucm-bench",
            "authenticationPassword": "bench-Ext-pa55",
            "conferenceName": "adhoc-000123 <&>",
            "numericId": "5550123",
            "pin": "",
            "durationSeconds": 3600,
            "maximumVideoPorts": -8,
            "locked": True,
            "startTime": datetime(2026, 12, 2, 10, 30, 0),
        },
    ),
    methodname="conference.create",
).encode()
_PARTICIPANT_ENUMERATE = xmlrpc.client.dumps(
    (
        {
            "authenticationUser": "cucm-bench",
            "authenticationPassword": "bench-Ext-pa55",
            "operationScope": ["currentState", "configuredState"],
            "ids": [1, 2, "x", False],
            "filter": {"conferenceName": "a", "limit": 5, "active": False},
            "empty": [],
            "none": {},
        },
    ),
    methodname="participant.enumerate",
).encode()

TAKEN = [
    _DEVICE_QUERY,
    _CONFERENCE_CREATE,
    _PARTICIPANT_ENUMERATE,
    b'<?xml version="1.0" encoding="UTF-8"?>'
    + _DEVICE_QUERY.removeprefix(b"<?xml version='1.0'?>").replace(b"\n", b""),
    b"<?xml version='1.0' encoding=\"utf-8\"?>" + _DEVICE_QUERY.removeprefix(b"<?xml version='1.0'?>"),
    _DEVICE_QUERY.replace(b"\n", b"\r\n"),
    _DEVICE_QUERY.removeprefix(b"<?xml version='1.0'?>\n"),
    b" \t\n\r\n" + _DEVICE_QUERY.removeprefix(b"<?xml version='1.0'?>\n"),
    _DEVICE_QUERY.replace(b"\n", b"\n    ").replace(b"<value>", b"<value>\n  ").replace(b"</string>", b"</string>\n"),
    _struct(("a", "<i4>7</i4>"), ("b", "bare text"), ("c", ""), ("d", "<string></string>"), ("e", "  ")),
    _struct(
        ("n", "<int> 12 </int>"), ("p", "<int>+5</int>"), ("u", "<int>1_000</int>"), ("big", f"<int>{2**40}</int>")
    ),
    _struct(("dup", "<int>1</int>"), ("x", "y"), ("dup", "<string>last</string>")),
    _struct(("a&amp;b&lt;&gt;&quot;&apos;", "&amp;lt; ]] > ' \" \U0001f600 \ufeff \x85"), method="x&amp;y"),
    _struct(("line", "one\r\ntwo\rthree\n"), ("tab", "\t")),
    _struct(),
    _struct(method=""),
]


@pytest.mark.parametrize("body", TAKEN)
def test_typical_bodies_are_read_by_the_fast_reader(body: bytes) -> None:
    """If the fast reader stopped taking these, every request would silently pay the slow path again."""
    fast = read_call_fast(body)
    assert fast is not None
    assert repr(fast) == repr(read_call_defused(body))


def test_the_fast_reader_keeps_the_readers_member_order_and_types() -> None:
    assert read_call_fast(_struct(("dup", "<int>1</int>"), ("x", "<boolean>1</boolean>"), ("dup", "z"))) == (
        "m",
        [{"dup": "z", "x": True}],
    )
    method, params = read_call_fast(_PARTICIPANT_ENUMERATE) or ("", [])
    assert (method, params[0]["filter"], params[0]["ids"]) == (
        "participant.enumerate",
        {"conferenceName": "a", "limit": 5, "active": False},
        [1, 2, "x", False],
    )


DECLINED = {
    "doctype": b"<!DOCTYPE methodCall>" + _DEVICE_QUERY.removeprefix(b"<?xml version='1.0'?>\n"),
    "entity": _DEVICE_QUERY.replace(b"\n<methodCall>", b'<!DOCTYPE m [<!ENTITY e "x">]><methodCall>'),
    "comment": _DEVICE_QUERY.replace(b"<member>", b"<!-- c --><member>", 1),
    "cdata": _one("<string><![CDATA[x]]></string>"),
    "pi": _DEVICE_QUERY.replace(b"<params>", b"<?pi x?><params>"),
    "version 1.1": _DEVICE_QUERY.replace(b"'1.0'", b"'1.1'"),
    "latin-1": _DEVICE_QUERY.replace(b"'1.0'", b"'1.0' encoding='ISO-8859-1'"),
    "utf8 spelled so": _DEVICE_QUERY.replace(b"'1.0'", b"'1.0' encoding='utf8'"),
    "mismatched quotes": _DEVICE_QUERY.replace(b"'1.0'", b"'1.0\""),
    "standalone": _DEVICE_QUERY.replace(b"'1.0'", b"'1.0' standalone='yes'"),
    "space in declaration": _DEVICE_QUERY.replace(b"'1.0'", b"'1.0' "),
    "space before declaration": b" " + _DEVICE_QUERY,
    "attribute": _DEVICE_QUERY.replace(b"<value>", b'<value a="1">', 1),
    "space in tag": _DEVICE_QUERY.replace(b"<value>", b"<value >", 1),
    "namespace": _DEVICE_QUERY.replace(b"<methodCall>", b"<methodCall xmlns='x'>"),
    "utf-8 bom": b"\xef\xbb\xbf" + _DEVICE_QUERY,
    "utf-16": _DEVICE_QUERY.decode().encode("utf-16"),
    "invalid utf-8": _one("<string>\xff</string>").replace(b"\xc3\xbf", b"\xff"),
    "overlong utf-8": _one("<string>/</string>").replace(b"/", b"\xc0\xaf"),
    "encoded surrogate": _one("<string>x</string>").replace(b"x", b"\xed\xa0\x80"),
    "nul": _one("<string>\x00</string>"),
    "control": _one("<string>\x01</string>"),
    "vertical tab between tags": _DEVICE_QUERY.replace(b"\n<params>", b"\x0b<params>"),
    "no-break space between tags": _DEVICE_QUERY.replace(b"\n<params>", "\xa0<params>".encode()),
    "U+FFFE": _one("<string>\ufffe</string>"),
    "U+FFFF": _one("<string>\uffff</string>"),
    "unknown entity": _one("<string>&e;</string>"),
    "decimal reference": _one("<string>&#65;</string>"),
    "hex reference": _one("<string>&#x41;</string>"),
    "amp without semicolon": _one("<string>&amp</string>"),
    "]]> in text": _one("<string>a]]>b</string>"),
    "double": _one("<double>1.5</double>"),
    "base64": _one("<base64>eA==</base64>"),
    "nil": _one("<nil/>"),
    "self-closing value": _struct(("a", "")).replace(b"<value></value>", b"<value/>"),
    "self-closing string": _one("<string/>"),
    "mixed content": _one("ab<string>c</string>"),
    "empty int": _one("<int></int>"),
    "int text": _one("<int>x</int>"),
    "int with reference": _one("<int>&#49;</int>"),
    "int beyond int()'s digits": _one(f"<int>{'9' * 5000}</int>"),
    "boolean 2": _one("<boolean>2</boolean>"),
    "boolean space": _one("<boolean> 1</boolean>"),
    "bad dateTime": _one("<dateTime.iso8601>2026-12-02</dateTime.iso8601>"),
    "mismatched int end": _one("<int>5</i4>"),
    "struct in struct in struct": _one(
        "<struct><member><name>b</name><value><struct></struct></value></member></struct>"
    ),
    "array in array": _one("<array><data><value><array><data></data></array></value></data></array>"),
    "struct in array": _one("<array><data><value><struct></struct></value></data></array>"),
    "array in nested struct": _one(
        "<struct><member><name>b</name><value><array><data></data></array></value></member></struct>"
    ),
    "value before name": _struct().replace(b"<struct>", b"<struct><member><value>v</value><name>n</name></member>"),
    "member without value": _struct().replace(b"<struct>", b"<struct><member><name>n</name></member>"),
    "two params": _DEVICE_QUERY.replace(b"</param>\n", b"</param>\n<param><value>x</value></param>\n"),
    "no params": b"<methodCall><methodName>m</methodName><params></params></methodCall>",
    "string param": b"<methodCall><methodName>m</methodName><params><param><value>x</value></param></params>"
    b"</methodCall>",
    "no methodName": _DEVICE_QUERY.replace(b"<methodName>device.query</methodName>\n", b""),
    "text after the root": _DEVICE_QUERY + b"x",
    "second root": _DEVICE_QUERY + b"<methodCall/>",
    "truncated": _DEVICE_QUERY[:-20],
    "fault": b"<methodResponse><fault><value><struct></struct></value></fault></methodResponse>",
}


@pytest.mark.parametrize("body", DECLINED.values(), ids=DECLINED.keys())
def test_unusual_bodies_go_to_the_defused_reader(body: bytes) -> None:
    assert read_call_fast(body) is None
    _assert_same(body)


def _hostile() -> list[bytes]:
    """64 KiB bodies shaped to make a backtracking pattern slow (nearly matching, then wrong at the end)."""
    head = b"<methodCall><methodName>m</methodName><params><param><value><struct>"
    member = b"<member><name>n</name><value><string>v</string></value></member>\n"
    size = 64 * 1024
    return [
        head + member * (size // len(member) - 2) + b"</struct></value></param></params></methodCall>x",
        head + b" " * (size - len(head) - 1) + b"x",
        head + b"<member><name>" + b"&amp;" * (size // 5 - 30) + b"&",
        head + b"<member><name>n</name><value><struct>" + member * (size // len(member) - 3) + b"<",
        head + b"<member><name>n</name><value>" + b" \t\n" * (size // 3 - 40) + b"<string>",
        head + b"<member><name>n</name><value><array><data>" + b"<value>1</value> " * (size // 17 - 10),
        b"<value>" * (size // 7),
    ]


@pytest.mark.parametrize("body", _hostile())
def test_hostile_bodies_are_declined(body: bytes) -> None:
    assert len(body) <= 64 * 1024
    assert read_call_fast(body) is None


def _unprotected(node: Any, opcodes: Any, protected: bool) -> list[str]:
    """Repetitions that may give back what they matched, and alternatives not inside an atomic construct."""
    found: list[str] = []
    for op, argument in node.data if hasattr(node, "data") else node:
        if op in (opcodes.MAX_REPEAT, opcodes.MIN_REPEAT):
            found.append(str(op))
        if op is opcodes.BRANCH and not protected:
            found.append(str(op))
        if op in (opcodes.POSSESSIVE_REPEAT, opcodes.MAX_REPEAT, opcodes.MIN_REPEAT):
            found += _unprotected(argument[2], opcodes, True)
        elif op is opcodes.ATOMIC_GROUP:
            found += _unprotected(argument, opcodes, True)
        elif op is opcodes.SUBPATTERN:
            found += _unprotected(argument[3], opcodes, protected)
        elif op is opcodes.BRANCH:
            for alternative in argument[1]:
                found += _unprotected(alternative, opcodes, protected)
    return found


def test_the_patterns_cannot_backtrack_into_what_they_matched() -> None:
    """Every repetition is possessive and every alternation atomic: each character is read a bounded
    number of times, so a hostile 64 KiB body costs linear time (no timing in a test; see the report)."""
    parser: Any = importlib.import_module("re._parser")
    opcodes: Any = importlib.import_module("re._constants")
    for pattern in PATTERNS:
        assert _unprotected(parser.parse(pattern.pattern), opcodes, False) == []
