"""Catch-all: every member of every registered method, sent every XML-RPC type, against the real server.

The list of methods and members comes from the dispatcher's registered pydantic models, so a member added
later is covered without touching this file. Each value is either accepted and reads back, or refused with a
specific fault naming the member (never 201, never exception text), and a refused call changes nothing.
Afterwards ``conference.enumerate``, ``conference.status`` and ``participant.enumerate`` still answer,
paged through with the standard library's ``xmlrpc.client``.
"""

from __future__ import annotations

import itertools
import xmlrpc.client
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from app.xmlrpc.faults import FAULT_STRINGS, FaultCode
from app.xmlrpc.registry import dispatcher
from tests.conferences.conftest import enumerate_all
from tests.conferences.raw_rpc import Outcome, Raw, RawClient, nested_array
from tests.support.bridge import Bridge, auth, start_bridge

# The types no declared member takes come first; the plausible ones after them.
HOSTILE: dict[str, object] = {
    "nil": None,
    "beyond-int32": 2**31,
    "beyond-i8": 2**70,
    "deep-array": nested_array(40),
    "10k-string": "x" * 10_000,
    "base64": b"\x00\xffbin",
    "double": 1.5,
    "struct": {"a": "b"},
    "far-datetime": datetime(9999, 12, 31, 23, 59, 59),
}
PLAUSIBLE: dict[str, object] = {
    "array": ["currentState"],
    "i8-tag": Raw("<i8>5</i8>"),
    "zero": 0,
    "negative": -1,
    "true": True,
    "false": False,
    "empty-string": "",
    "string": "v1",
    "digits": "4711",
    "h323": "h323",
    "datetime": datetime(2031, 5, 6, 7, 8, 9),
}
EVERY_TYPE = {**HOSTILE, **PLAUSIBLE}
# Faults a refusal may carry: the MCU's specific ones. 201 ("operation failed") is never an answer to a value.
SPECIFIC = {code for code in FaultCode if code is not FaultCode.OPERATION_FAILED}
LEAK_MARKERS = ("Error", "Traceback", "None", "cannot", "argument", "object", "NoneType", "<", "'")
# Members whose reply value is derived from others, or renamed, so the sent value is not echoed as is.
NOT_ECHOED = frozenset({"h239Enabled", "h239Important", "conferenceID", "endTime", "templateName", "templateNumber"})
TIME_DEPENDENT = ("conferenceActive", "activeStartTime", "activeEndTime", "activeConferenceId")

METHOD_MEMBERS = sorted(
    (method, member)
    for method in dispatcher.methods
    for member in (list(dispatcher.model_of(method).model_fields) or ["someUnknownMember"])
)
KNOWN_METHODS = frozenset(
    {
        *(f"device.{name}" for name in ("query", "health.query", "network.query")),
        *(
            f"conference.{name}"
            for name in ("create", "destroy", "end", "modify", "status", "resetCleanupTimeout", "enumerate")
        ),
        *(
            f"participant.{name}"
            for name in ("add", "remove", "connect", "disconnect", "modify", "move", "status", "enumerate")
        ),
    }
)
_names = itertools.count()


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    instance = start_bridge(
        tmp_path_factory.mktemp("every-member"),
        env_overrides={"ADHOC_LOG__LEVEL": "warning", "ADHOC_CONFERENCES__MAX_PARTICIPANTS": "10000"},
    )
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def raw(server: Bridge) -> Iterator[RawClient]:
    with RawClient(server) as client:
        yield client


def _assert_specific(outcome: Outcome, method: str, member: str, label: str) -> None:
    context = (method, member, label, outcome)
    assert outcome.status == 200, context
    assert outcome.fault_code in SPECIFIC, context
    assert outcome.fault_string is not None
    base = FAULT_STRINGS[FaultCode(outcome.fault_code)]
    assert outcome.fault_string == base or outcome.fault_string.startswith(f"{base} - "), context
    detail = outcome.fault_string[len(base) + 3 :]
    assert len(detail) <= 64, context
    for marker in LEAK_MARKERS:
        assert marker not in detail, context


def _stable(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in TIME_DEPENDENT}


class World:
    """The conferences and participants the calls under test refer to."""

    def __init__(self, raw: RawClient) -> None:
        self.raw = raw

    def conference(self) -> str:
        name = fresh("c")
        self.raw.ok("conference.create", conferenceName=name)
        return name

    def participant(self, conference: str) -> str:
        name = fresh("p")
        self.raw.ok("participant.add", conferenceName=conference, participantName=name, address="sip:a@example.com")
        return name

    def base(self, method: str) -> dict[str, Any]:
        """Valid members for ``method`` naming things that exist, so the member under test decides."""
        if method == "conference.create":
            return {"conferenceName": fresh("n")}
        if method in ("conference.modify", "conference.destroy", "conference.end", "conference.status") or (
            method == "conference.resetCleanupTimeout"
        ):
            return {"conferenceName": self.conference()}
        if method == "participant.add":
            return {"conferenceName": self.conference(), "participantName": fresh("p"), "address": "sip:b@example.com"}
        if method.startswith("participant.") and method in KNOWN_METHODS and method != "participant.enumerate":
            conference = self.conference()
            params = {"conferenceName": conference, "participantName": self.participant(conference)}
            if method == "participant.move":
                params["newConferenceName"] = self.conference()
            return params
        return {}

    def snapshot(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """What a refused call must leave unchanged."""
        if method == "conference.modify":
            return _stable(self.raw.ok("conference.status", conferenceName=params["conferenceName"]))
        if method in ("participant.modify", "participant.move"):
            return self.raw.ok(
                "participant.status", conferenceName=params["conferenceName"], participantName=params["participantName"]
            )
        return None


def _reads_back(raw: RawClient, method: str, params: dict[str, Any], member: str, value: object) -> None:
    if method in ("conference.create", "conference.modify"):
        name = params.get("newConferenceName", params["conferenceName"]) if method.endswith("modify") else None
        status = raw.ok("conference.status", conferenceName=name or params["conferenceName"])
        if member in status and member not in NOT_ECHOED and not isinstance(value, Raw):
            assert status[member] == value, (method, member, value, status[member])
    elif method in ("participant.add", "participant.modify"):
        if method == "participant.add" and params.get("participantType") == "ad_hoc":
            return
        state = raw.ok(
            "participant.status", conferenceName=params["conferenceName"], participantName=params["participantName"]
        )
        configured = state["configuredState"]
        if member in configured and not isinstance(value, Raw):
            assert configured[member] == value, (method, member, value, configured[member])


def _refused_left_nothing(server: Bridge, conferences: set[str], participants: set[tuple[str, str]]) -> None:
    """No refused conference.create or participant.add stored anything."""
    stored, _ = enumerate_all(server, "conference.enumerate", "conferences", moreThanFour=True)
    assert not conferences & {record["conferenceName"] for record in stored}
    added, _ = enumerate_all(server, "participant.enumerate", "participants")
    assert not participants & {(record["conferenceName"], record["participantName"]) for record in added}


def _status_or_cleaned_up(proxy: xmlrpc.client.ServerProxy, name: str) -> None:
    """The status struct; or fault 4 when the conference's cleanupTimeout (a few seconds) ran out meanwhile."""
    code: int | None = None
    try:
        status: dict[str, Any] = proxy.conference.status(auth(conferenceName=name))  # type: ignore[assignment]
    except xmlrpc.client.Fault as fault:
        code = fault.faultCode
    else:
        assert status["conferenceName"] == name
    assert code in (None, 4), name


def _still_answers(server: Bridge) -> None:
    """Every page of both enumerations, read by the standard library's xmlrpc.client, and status samples."""
    conferences, _ = enumerate_all(server, "conference.enumerate", "conferences", moreThanFour=True)
    short_pages, _ = enumerate_all(server, "conference.enumerate", "conferences")
    participants, _ = enumerate_all(
        server, "participant.enumerate", "participants", operationScope=["currentState", "configuredState"]
    )
    # Hundreds of each were stored (a few may have been cleaned up by a short cleanupTimeout meanwhile).
    assert min(len(conferences), len(short_pages), len(participants)) > len(METHOD_MEMBERS) // 2
    with server.rpc() as proxy:
        for conference in conferences[:: max(1, len(conferences) // 25)]:
            _status_or_cleaned_up(proxy, conference["conferenceName"])


def test_every_member_of_every_method_takes_or_refuses_every_type(server: Bridge, raw: RawClient) -> None:
    world = World(raw)
    accepted: list[tuple[str, str, str]] = []
    refused_conferences: set[str] = set()
    refused_participants: set[tuple[str, str]] = set()
    for method, member in METHOD_MEMBERS:
        params = world.base(method)  # a refused call changes nothing, so its targets serve the next value
        before = world.snapshot(method, params)
        for label, value in EVERY_TYPE.items():
            if label == next(iter(PLAUSIBLE)) and before is not None:  # every hostile type was refused
                assert world.snapshot(method, params) == before, (method, member)
            call = {**params, member: value}
            outcome = raw.call(method, **call)
            if outcome.result is not None:
                accepted.append((method, member, label))
                refused_conferences.discard(params.get("conferenceName", ""))  # these were refused before
                refused_participants.discard((params.get("conferenceName", ""), params.get("participantName", "")))
                _reads_back(raw, method, call, member, value)
                params = world.base(method)  # the call may have used up its targets (destroy, remove, move)
                before = world.snapshot(method, params)
                continue
            _assert_specific(outcome, method, member, label)
            if method == "conference.create" and member != "conferenceName":
                refused_conferences.add(params["conferenceName"])
            if method == "participant.add" and member not in ("conferenceName", "participantName"):
                refused_participants.add((params["conferenceName"], params["participantName"]))
        if before is not None:
            assert world.snapshot(method, params) == before, (method, member)
    # The base members alone are a valid call of every method World knows, so each refusal above was the
    # member's. (A method registered later by another dialect is still swept, from an empty base.)
    for method in sorted(dispatcher.methods & KNOWN_METHODS):
        assert raw.call(method, **world.base(method)).result is not None, method
    assert not [entry for entry in accepted if entry[2] in HOSTILE and entry[1] != "someUnknownMember"]
    _refused_left_nothing(server, refused_conferences, refused_participants)
    # Every accepted value is stored now (one conference or participant each): all of it must page through.
    _still_answers(server)
    assert "Traceback" not in server.log_text()


# -- property test: random combinations of valid and hostile values --------------------------------------

_HOSTILE_VALUES = st.sampled_from(list(EVERY_TYPE.values()))
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\ufffe\uffff"), max_size=40)
_ANY_VALUE = (
    _HOSTILE_VALUES
    | _TEXT
    | st.integers(-(2**40), 2**40)
    | st.booleans()
    | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda moment: moment.replace(microsecond=0)
    )
    | st.sampled_from(["h323", "sip", "ad_hoc", "by_address", "none", "weekly", "automatic", "currentState", "0"])
)
_FILTER_TEXT = st.lists(
    st.sampled_from(["active", "completed", "connected", "(", ")", "!", "&&", "||", "/", "%", "<<", "9" * 40, "0x"]),
    max_size=30,
).map("".join)


def _members_of(method: str) -> st.SearchStrategy[dict[str, object]]:
    members = sorted(dispatcher.model_of(method).model_fields) or ["someUnknownMember"]
    return st.dictionaries(st.sampled_from(members), _ANY_VALUE | _FILTER_TEXT, max_size=6)


_CALLS = st.sampled_from(sorted(dispatcher.methods)).flatmap(
    lambda method: st.tuples(st.just(method), _members_of(method))
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_CALLS)
def test_random_member_combinations_never_fault_201(raw: RawClient, server: Bridge, sent: Any) -> None:
    method, members = sent
    world = World(raw)
    params = {**world.base(method), **members}
    outcome = raw.call(method, **params)
    if outcome.result is None:
        _assert_specific(outcome, method, ",".join(members), "random")
    for name in ("conferenceName", "newConferenceName"):
        target = params.get(name)
        if isinstance(target, str) and outcome.result is not None and target:
            assert raw.call("conference.status", conferenceName=target).fault_code in (None, 4)
    raw.ok("conference.enumerate", moreThanFour=True)
    raw.ok("participant.enumerate")


def test_the_standard_librarys_client_reads_a_nil_fault_cleanly(server: Bridge) -> None:
    with server.rpc(allow_none=True) as proxy, pytest.raises(xmlrpc.client.Fault) as raised:
        proxy.conference.create(auth(conferenceName="stdlib-nil", pin=None))
    assert (raised.value.faultCode, raised.value.faultString) == (103, "malformed parameter - pin")
