"""Issue 10, "validate at the door": the values that once broke every CUCM now get a specific fault.

Each case was first reproduced against the real server (fault 201 with a traceback, or a stored value
that made ``conference.status``/``conference.enumerate`` fail for everybody afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.conferences.raw_rpc import RawClient, call_body, nested_array, with_auth
from tests.support.bridge import Bridge, start_bridge


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    instance = start_bridge(tmp_path_factory.mktemp("hostile"), env_overrides={"ADHOC_LOG__LEVEL": "info"})
    yield instance
    instance.stop()


@pytest.fixture
def raw(hostile: Bridge) -> Iterator[RawClient]:
    with RawClient(hostile) as client:
        yield client


def _still_answers(raw: RawClient, conference: str | None = None) -> None:
    raw.ok("conference.enumerate")
    raw.ok("conference.enumerate", moreThanFour=True)
    raw.ok("participant.enumerate")
    if conference is not None:
        raw.ok("conference.status", conferenceName=conference)


@pytest.mark.parametrize("member", ["pin", "description", "private", "registerWithSIPRegistrar", "numericId"])
def test_nil_member_of_conference_create_is_fault_103_and_nothing_is_stored(raw: RawClient, member: str) -> None:
    name = f"nil-{member}"
    outcome = raw.call("conference.create", conferenceName=name, **{member: None})
    assert (outcome.fault_code, outcome.fault_string) == (103, f"malformed parameter - {member}")
    assert raw.call("conference.status", conferenceName=name).fault_code == 4
    _still_answers(raw)


@pytest.mark.parametrize("member", ["pin", "description", "private", "maximumVideoPorts", "startTime"])
def test_nil_member_of_conference_modify_is_fault_103_and_the_conference_is_unchanged(
    raw: RawClient, member: str
) -> None:
    name = f"mod-nil-{member}"
    raw.ok("conference.create", conferenceName=name, pin="1234", description="kept", maximumVideoPorts=4)
    before = raw.ok("conference.status", conferenceName=name)
    outcome = raw.call("conference.modify", conferenceName=name, **{member: None})
    assert (outcome.fault_code, outcome.fault_string) == (103, f"malformed parameter - {member}")
    assert raw.ok("conference.status", conferenceName=name) == before
    _still_answers(raw, name)


@pytest.mark.parametrize(
    "member",
    [
        "reservedAudioPorts",
        "reservedVideoPorts",
        "maximumAudioPorts",
        "maximumVideoPorts",
        "durationSeconds",
        "cleanupTimeout",
        "startTime",
        "endTime",
        "templateNumber",
    ],
)
def test_nil_port_and_time_members_are_fault_103_not_201(raw: RawClient, member: str) -> None:
    outcome = raw.call("conference.create", conferenceName=f"ports-{member}", **{member: None})
    assert (outcome.fault_code, outcome.fault_string) == (103, f"malformed parameter - {member}")
    _still_answers(raw)


@pytest.mark.parametrize("member", ["deferConnection", "addAsGuest", "maxBitRateToMCU", "displayNameOverrideValue"])
def test_nil_member_of_participant_add_is_fault_103_and_enumerate_still_answers(raw: RawClient, member: str) -> None:
    conference = f"pn-{member}"
    raw.ok("conference.create", conferenceName=conference)
    outcome = raw.call(
        "participant.add", conferenceName=conference, participantName="p", address="sip:p@example.com", **{member: None}
    )
    assert (outcome.fault_code, outcome.fault_string) == (103, f"malformed parameter - {member}")
    assert raw.call("participant.status", conferenceName=conference, participantName="p").fault_code == 5
    _still_answers(raw, conference)


def test_nil_member_of_participant_modify_is_fault_103(raw: RawClient) -> None:
    conference = "part-mod-nil"
    raw.ok("conference.create", conferenceName=conference)
    raw.ok("participant.add", conferenceName=conference, participantName="p", address="sip:p@example.com")
    outcome = raw.call("participant.modify", conferenceName=conference, participantName="p", audioRxMuted=None)
    assert (outcome.fault_code, outcome.fault_string) == (103, "malformed parameter - audioRxMuted")
    _still_answers(raw, conference)


@pytest.mark.parametrize(
    ("method", "member"),
    [
        ("conference.enumerate", "enumerateID"),
        ("conference.enumerate", "lastRevision"),
        ("conference.enumerate", "enumerateFilter"),
        ("participant.enumerate", "operationScope"),
        ("conference.destroy", "conferenceName"),
        ("participant.status", "participantName"),
    ],
)
def test_nil_in_other_methods_is_fault_103(raw: RawClient, method: str, member: str) -> None:
    params = {"conferenceName": "x", "participantName": "y", member: None}
    outcome = raw.call(method, **params)
    assert (outcome.fault_code, outcome.fault_string) == (103, f"malformed parameter - {member}")


def test_nil_inside_an_array_member_is_refused(raw: RawClient) -> None:
    outcome = raw.call("participant.enumerate", operationScope=["currentState", None])
    assert outcome.fault_code == 103
    assert outcome.fault_string is not None
    assert outcome.fault_string.startswith("malformed parameter - operationScope")


@pytest.mark.parametrize(
    "params",
    [
        {"startTime": datetime(9999, 12, 31, 23, 59, 59), "durationSeconds": 3600},
        {"startTime": datetime(9999, 12, 31, 23, 59, 59)},
        {"startTime": datetime(1, 1, 1)},
        {"endTime": datetime(9999, 12, 31, 23, 59, 59)},
        {"terminationDate": datetime(9999, 12, 31)},
    ],
    ids=["far-start-with-duration", "far-start", "year-1", "far-end", "far-termination"],
)
def test_dates_out_of_range_are_fault_102(raw: RawClient, params: dict[str, object]) -> None:
    name = f"dates-{len(params)}-{next(iter(params.values()))!s:.4}"
    outcome = raw.call("conference.create", conferenceName=name, **params)
    assert outcome.fault_code == 102, outcome
    assert outcome.fault_string in {f"invalid parameter - {member}" for member in params}
    assert raw.call("conference.status", conferenceName=name).fault_code == 4
    _still_answers(raw)


def test_end_time_decades_away_cannot_overflow_the_duration(raw: RawClient) -> None:
    """endTime - startTime becomes durationSeconds: a span beyond 32 bits is refused, not stored."""
    outcome = raw.call(
        "conference.create",
        conferenceName="long-span",
        startTime=datetime(1971, 1, 1),
        endTime=datetime(2199, 1, 1),
    )
    assert outcome.fault_code in (12, 102), outcome
    _still_answers(raw)


def test_modify_of_a_far_start_with_a_duration_is_refused_not_201(raw: RawClient) -> None:
    raw.ok("conference.create", conferenceName="far-modify")
    outcome = raw.call(
        "conference.modify", conferenceName="far-modify", startTime=datetime(9999, 12, 31), durationSeconds=2**31 - 1
    )
    assert outcome.fault_code == 102, outcome
    _still_answers(raw, "far-modify")


def test_largest_accepted_start_plus_largest_duration_and_cleanup_still_answer(raw: RawClient) -> None:
    """The edge of the accepted range: every derived time (end, cleanup deadline) still fits and encodes."""
    from app.conferences.schemas import LATEST_DATETIME

    name = "edge-of-range"
    raw.ok(
        "conference.create",
        conferenceName=name,
        startTime=LATEST_DATETIME,
        durationSeconds=2**31 - 1,
        cleanupTimeout=2**31 - 1,
    )
    status = raw.ok("conference.status", conferenceName=name)
    assert status["startTime"] == LATEST_DATETIME
    assert status["durationSeconds"] == 2**31 - 1
    raw.ok("participant.add", conferenceName=name, participantName="early", address="sip:e@example.com")
    raw.ok("conference.resetCleanupTimeout", conferenceName=name)
    raw.ok("conference.end", conferenceName=name)
    _still_answers(raw, name)


def test_array_nested_1400_deep_is_fault_103(raw: RawClient) -> None:
    body = call_body("conference.create", with_auth({"conferenceName": "deep", "description": nested_array(1400)}))
    assert len(body) < 64 * 1024
    outcome = raw.post(body)
    assert (outcome.status, outcome.fault_code) == (200, 103)
    assert raw.call("conference.status", conferenceName="deep").fault_code == 4


def test_nesting_is_capped_well_below_the_recursion_limit(raw: RawClient) -> None:
    shallow = raw.call("device.query", cookie=nested_array(30))
    assert shallow.result is not None
    deep = raw.call("device.query", cookie=nested_array(40))
    assert deep.fault_code == 103
    deep_struct = raw.call("device.query", cookie=_nested_struct(40))
    assert deep_struct.fault_code == 103


def _nested_struct(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"s": value}
    return value


@pytest.mark.parametrize(
    "encoding", ["x-nope", "utf-7", "utf-32", "shift_jis", "cp037", "rot13", "hex", "zlib", "base64"]
)
def test_unknown_or_unsupported_xml_encoding_is_fault_103(raw: RawClient, encoding: str) -> None:
    body = call_body("device.query", with_auth({}), declaration=f"<?xml version='1.0' encoding='{encoding}'?>")
    outcome = raw.post(body)
    assert (outcome.status, outcome.fault_code) == (200, 103), outcome
    assert outcome.fault_string == "malformed parameter - request body (unsupported encoding)"


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "us-ascii", "windows-1252"])
def test_ordinary_encodings_still_work(raw: RawClient, encoding: str) -> None:
    declaration = f"<?xml version='1.0' encoding='{encoding}'?>"
    body = call_body("device.query", with_auth({}), declaration=declaration, encoding=encoding)
    assert raw.post(body).result is not None


def test_no_fault_string_carries_exception_text_and_the_log_has_no_traceback(raw: RawClient, hostile: Bridge) -> None:
    outcomes = [
        raw.call("conference.create", conferenceName="leak", pin=None),
        raw.call("conference.create", conferenceName="leak", startTime=datetime(9999, 12, 31), durationSeconds=60),
        raw.post(call_body("device.query", with_auth({"a": nested_array(1400)}))),
        raw.post(call_body("device.query", with_auth({}), declaration="<?xml version='1.0' encoding='x-nope'?>")),
    ]
    for outcome in outcomes:
        assert outcome.fault_code in (102, 103), outcome
        assert outcome.fault_string is not None
        for marker in ("Error", "Traceback", "None", "cannot", "argument", "range", "x-nope", "recursion"):
            assert marker not in outcome.fault_string
    assert "Traceback" not in hostile.log_text()


@pytest.mark.parametrize(
    "expression",
    ["9" * 400 + "/1", "0x" + "f" * 300 + "%3", "9" * 1000 + "/7", "(" * 600 + "active" + ")" * 600],
    ids=["division-overflow", "modulo-overflow", "long-literal", "deep-parentheses"],
)
@pytest.mark.parametrize("method", ["conference.enumerate", "participant.enumerate"])
def test_enumerate_filters_that_overflow_are_fault_102(raw: RawClient, method: str, expression: str) -> None:
    name = f"filter-{method[0]}"
    if raw.call("conference.status", conferenceName=name).fault_code == 4:
        raw.ok("conference.create", conferenceName=name)
        raw.ok("participant.add", conferenceName=name, participantName="f", address="sip:f@example.com")
    outcome = raw.call(method, enumerateFilter=expression)
    assert (outcome.fault_code, outcome.fault_string) == (102, "invalid parameter - enumerateFilter"), outcome
