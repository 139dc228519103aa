"""The call reader's limits and the dispatcher's nil rule, in process (the server-side view is in
tests/conferences/test_hostile_values.py and test_every_member.py)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from app.conferences.schemas import CreateConferenceParams
from app.xmlrpc.call_reader import MAX_NESTING, NestedTooDeep, UnsupportedEncoding, read_call
from app.xmlrpc.codec import parse_call
from app.xmlrpc.dispatcher import Dispatcher, RpcParams, check_values
from app.xmlrpc.faults import McuFault


def _nested(depth: int) -> bytes:
    """A call whose params struct holds arrays nested so that ``depth`` containers are open at the core."""
    arrays = depth - 1  # the params struct is one
    core = "<array><data><value>" * arrays + "x" + "</value></data></array>" * arrays
    return (
        "<methodCall><methodName>m</methodName><params><param><value><struct>"
        f"<member><name>a</name><value>{core}</value></member></struct></value></param></params></methodCall>"
    ).encode()


def test_nesting_up_to_the_cap_reads_and_one_more_level_is_refused() -> None:
    method, params = read_call(_nested(MAX_NESTING))
    assert method == "m"
    value: Any = params[0]["a"]
    for _ in range(MAX_NESTING - 1):
        value = value[0]
    assert value == "x"
    with pytest.raises(NestedTooDeep):
        read_call(_nested(MAX_NESTING + 1))


def test_the_cap_is_far_below_the_recursion_limit() -> None:
    assert sys.getrecursionlimit() > MAX_NESTING * 4


def test_too_deep_is_fault_103_with_a_fixed_string() -> None:
    with pytest.raises(McuFault) as raised:
        parse_call(_nested(1400))
    assert (int(raised.value.code), raised.value.fault_string) == (
        103,
        "malformed parameter - request body (nested too deeply)",
    )


def _declared(encoding: str) -> bytes:
    return f"<?xml version='1.0' encoding=\"{encoding}\"?><methodCall><methodName>m</methodName></methodCall>".encode()


@pytest.mark.parametrize("encoding", ["x-nope", "", "utf-7", "utf-32", "shift_jis", "cp037", "rot13", "base64"])
def test_unknown_unsupported_and_transform_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        read_call(_declared(encoding))
    with pytest.raises(McuFault) as raised:
        parse_call(_declared(encoding))
    assert raised.value.fault_string == "malformed parameter - request body (unsupported encoding)"


@pytest.mark.parametrize("encoding", ["UTF-8", "utf8", "ISO-8859-1", "latin-1", "US-ASCII", "windows-1252", "koi8-r"])
def test_encodings_expat_reads_are_accepted(encoding: str) -> None:
    assert read_call(_declared(encoding)) == ("m", [])


class _Params(RpcParams):
    name: str | None = None
    scope: list[str] | None = None


def test_nil_is_refused_in_declared_members_only_and_absent_stays_not_given() -> None:
    members = frozenset(_Params.model_fields)
    for params, member in (
        ({"name": None}, "name"),
        ({"scope": ["a", None]}, "scope.1"),
        ({"name": {"<client key>": None}}, "name"),
        ({"cookie": {"<client key>": 2**31}}, "cookie"),
    ):
        with pytest.raises(McuFault) as raised:
            check_values(params, members)
        assert raised.value.fault_string == f"malformed parameter - {member}"
    check_values({"unknown": None, "other": [None]}, members)
    assert _Params.model_validate({}).model_fields_set == set()


async def test_the_dispatcher_refuses_nil_before_the_handler_runs() -> None:
    rpc: Dispatcher[None] = Dispatcher()
    ran: list[object] = []

    @rpc.method("conference.create", CreateConferenceParams)
    async def create(params: CreateConferenceParams, _ctx: None) -> dict[str, Any]:
        ran.append(params)
        return {}

    with pytest.raises(McuFault) as raised:
        await rpc.dispatch("conference.create", {"conferenceName": "a", "pin": None}, None)
    assert raised.value.fault_string == "malformed parameter - pin"
    assert ran == []
    assert rpc.model_of("conference.create") is CreateConferenceParams


async def test_a_method_without_members_takes_any_struct_but_still_refuses_too_big_integers() -> None:
    class _Nothing(RpcParams):
        pass

    rpc: Dispatcher[None] = Dispatcher()
    seen: list[RpcParams] = []

    @rpc.method("device.query", _Nothing)
    async def query(params: _Nothing, _ctx: None) -> dict[str, Any]:
        seen.append(params)
        return {"ok": True}

    assert await rpc.dispatch("device.query", {}, None) == {"ok": True}
    assert await rpc.dispatch("device.query", {"anything": [None, "x"], "n": 7}, None) == {"ok": True}
    assert all(isinstance(params, _Nothing) for params in seen)
    with pytest.raises(McuFault) as raised:
        await rpc.dispatch("device.query", {"n": 2**31}, None)
    assert raised.value.fault_string == "malformed parameter - n"
