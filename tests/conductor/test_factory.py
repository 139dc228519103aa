"""The TelePresence Conductor dialect (factory.*) through /RPC2 and /RPC2/ over HTTPS, xmlrpc.client and curl."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conductor.conftest import PATHS, Client, enumerate_all, fault, rpc
from tests.support.bridge import Bridge
from tests.support.clients import post_rpc

OK = "operation successful"
_serial = itertools.count(1)


def _alias(host: str = "") -> str:
    return f"7{next(_serial):06d}{host}"


@pytest.mark.parametrize("client", ["xmlrpc", "curl"])
@pytest.mark.parametrize("path", PATHS)
def test_factory_conference_lifecycle(bridge: Bridge, path: str, client: Client) -> None:
    alias = _alias("@cucm.example.com")
    kw: dict[str, Any] = {"path": path, "client": client}
    created = rpc(
        bridge,
        "factory.conferencecreate",
        {
            "conferenceAlias": alias,
            "factoryMinDurationMinutes": 5,
            "factoryMaxDurationMinutes": 90,
            "factoryOverridePIN": "1234",
            "factoryOverrideGuestPIN": "",
        },
        **kw,
    )
    assert created == {"status": OK, "factory_conference_id": alias}
    conference_id = created["factory_conference_id"]

    status = rpc(bridge, "conference.status", {"conferenceName": conference_id}, **kw)
    assert status["conferenceName"] == alias
    assert status["numericId"] == alias.split("@")[0]
    assert status["durationSeconds"] == 90 * 60
    assert status["pin"] == "1234"
    assert status["conferenceActive"] is True

    listed = enumerate_all(bridge, "conference.enumerate", "conferences", {"moreThanFour": True}, **kw)
    assert alias in [conference["conferenceName"] for conference in listed]

    added = {"conferenceName": conference_id, "participantName": "p1", "address": "sip:p1@example.com"}
    assert rpc(bridge, "participant.add", {**added, "participantProtocol": "sip"}, **kw) == {"status": OK}
    participants = enumerate_all(
        bridge, "participant.enumerate", "participants", {"factoryConferenceIds": [conference_id]}, **kw
    )
    assert [(p["conferenceName"], p["participantName"]) for p in participants] == [(alias, "p1")]

    assert rpc(bridge, "conference.destroy", {"conferenceName": conference_id}, **kw) == {"status": OK}
    assert fault(bridge, "conference.status", {"conferenceName": alias}, **kw)[0] == 4


def test_alias_without_host_and_no_limits(bridge: Bridge) -> None:
    alias = _alias()
    assert rpc(bridge, "factory.conferencecreate", {"conferenceAlias": alias})["factory_conference_id"] == alias
    status = rpc(bridge, "conference.status", {"conferenceName": alias})
    assert (status["numericId"], status["durationSeconds"], status["pin"]) == (alias, 0, "")
    assert rpc(bridge, "conference.end", {"conferenceName": alias}) == {"status": OK}
    assert rpc(bridge, "conference.destroy", {"conferenceName": alias}) == {"status": OK}


@pytest.mark.parametrize("path", PATHS)
def test_missing_or_empty_alias_is_fault_21(bridge: Bridge, path: str) -> None:
    assert fault(bridge, "factory.conferencecreate", {}, path=path) == (21, "no conference alias supplied")
    assert fault(bridge, "factory.conferencecreate", {"conferenceAlias": ""}, path=path)[0] == 21
    assert (
        fault(bridge, "factory.conferencecreate", {"factoryMaxDurationMinutes": 5}, path=path, client="curl")[0] == 21
    )


@pytest.mark.parametrize("path", PATHS)
def test_alias_in_use_is_fault_2_conference_already_present(bridge: Bridge, path: str) -> None:
    alias = _alias("@a.example")
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": alias}, path=path)
    code, text = fault(bridge, "factory.conferencecreate", {"conferenceAlias": alias}, path=path)
    assert code == 2
    assert "conference already present" in text
    # The same number under another host is the same numeric ID: in use as well.
    code, text = fault(bridge, "factory.conferencecreate", {"conferenceAlias": alias.split("@")[0] + "@b"}, path=path)
    assert (code, "conference already present" in text) == (2, True)
    # An MCU conference holding the number as its numericId makes the alias clash too.
    number = _alias()
    rpc(bridge, "conference.create", {"conferenceName": "mcu-" + number, "numericId": number}, path=path)
    assert fault(bridge, "factory.conferencecreate", {"conferenceAlias": number}, path=path)[0] == 2
    rpc(bridge, "conference.destroy", {"conferenceName": "mcu-" + number}, path=path)
    rpc(bridge, "conference.destroy", {"conferenceName": alias}, path=path)


@pytest.mark.parametrize("path", PATHS)
def test_unknown_conference_is_fault_4(bridge: Bridge, path: str) -> None:
    assert fault(bridge, "conference.destroy", {"conferenceName": "no-such-alias"}, path=path)[0] == 4
    assert fault(bridge, "conference.status", {"conferenceName": "no-such-alias"}, path=path, client="curl")[0] == 4


@pytest.mark.parametrize("path", PATHS)
def test_invented_enumerate_id_is_fault_16(bridge: Bridge, path: str) -> None:
    params = {"factoryConferenceIds": ["x"], "enumerateID": "invented.value"}
    assert fault(bridge, "participant.enumerate", params, path=path)[0] == 16


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"conferenceAlias": 7001}, "conferenceAlias"),
        ({"conferenceAlias": "7001", "factoryMaxDurationMinutes": "30"}, "factoryMaxDurationMinutes"),
        ({"conferenceAlias": "7001", "factoryMinDurationMinutes": True}, "factoryMinDurationMinutes"),
        ({"conferenceAlias": "7001", "factoryOverridePIN": 1234}, "factoryOverridePIN"),
    ],
)
def test_wrong_types_are_fault_103_naming_the_member(bridge: Bridge, params: dict[str, object], member: str) -> None:
    assert fault(bridge, "factory.conferencecreate", params) == (103, f"malformed parameter - {member}")
    assert fault(bridge, "conference.status", {"conferenceName": "7001"})[0] == 4  # nothing was stored


def test_factory_conference_ids_of_the_wrong_type_are_fault_103(bridge: Bridge) -> None:
    assert fault(bridge, "participant.enumerate", {"factoryConferenceIds": "7001"})[0] == 103
    assert fault(bridge, "participant.enumerate", {"factoryConferenceIds": [7001]})[0] == 103


def test_bad_values_are_refused_and_nothing_is_stored(bridge: Bridge) -> None:
    assert fault(bridge, "factory.conferencecreate", {"conferenceAlias": "7002", "factoryOverridePIN": "12ab"})[0] == 13
    too_long = {"conferenceAlias": "7" * 32}
    assert fault(bridge, "factory.conferencecreate", too_long) == (102, "invalid parameter - conferenceAlias")
    narrow = {"conferenceAlias": "7003", "factoryMinDurationMinutes": 60, "factoryMaxDurationMinutes": 30}
    assert fault(bridge, "factory.conferencecreate", narrow)[0] == 104
    for name in ("7002", "7003"):
        assert fault(bridge, "conference.status", {"conferenceName": name})[0] == 4


def test_an_mcu_conference_is_seen_by_factory_conference_ids_by_its_name(bridge: Bridge) -> None:
    rpc(bridge, "conference.create", {"conferenceName": "mcu-visible"})
    rpc(bridge, "participant.add", {"conferenceName": "mcu-visible", "participantName": "a", "address": "a@x"})
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": "other-room"})
    rpc(bridge, "participant.add", {"conferenceName": "other-room", "participantName": "b", "address": "b@x"})
    seen = enumerate_all(bridge, "participant.enumerate", "participants", {"factoryConferenceIds": ["mcu-visible"]})
    assert [(p["conferenceName"], p["participantName"]) for p in seen] == [("mcu-visible", "a")]
    both = enumerate_all(
        bridge, "participant.enumerate", "participants", {"factoryConferenceIds": ["mcu-visible", "other-room"]}
    )
    assert sorted(p["participantName"] for p in both) == ["a", "b"]
    none = enumerate_all(bridge, "participant.enumerate", "participants", {"factoryConferenceIds": []})
    assert none == []
    names = [c["conferenceName"] for c in enumerate_all(bridge, "conference.enumerate", "conferences", {})]
    assert {"mcu-visible", "other-room"} <= set(names)
    status = rpc(bridge, "conference.status", {"conferenceName": "other-room"})
    assert status["numericId"] == ""  # not digits: reachable by name only
    for name in ("mcu-visible", "other-room"):
        rpc(bridge, "conference.destroy", {"conferenceName": name})


@pytest.mark.parametrize("path", PATHS)
def test_factory_health_query_reports_health_and_capacity(bridge: Bridge, path: str) -> None:
    before = rpc(bridge, "factory.health.query", {}, path=path)
    assert before["status"] == OK
    assert before["health"] == "ok"
    assert before["databaseReachable"] is True
    for member in ("conferenceCount", "maxConferences", "availableConferences", "maxParticipantsPerConference"):
        assert isinstance(before[member], int)
        assert not isinstance(before[member], bool)
    assert 0 <= before["cpuLoad"] <= 100
    assert isinstance(before["uptimeSeconds"], int)
    assert isinstance(before["softwareVersion"], str)
    assert before["availableConferences"] == before["maxConferences"] - before["conferenceCount"]
    alias = _alias()
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": alias}, path=path)
    after = rpc(bridge, "factory.health.query", {}, path=path, client="curl")
    assert after["conferenceCount"] == before["conferenceCount"] + 1
    rpc(bridge, "conference.destroy", {"conferenceName": alias}, path=path)


def test_factory_methods_need_the_external_system_credentials(bridge: Bridge) -> None:
    reply = post_rpc("curl", bridge, "factory.conferencecreate", {"conferenceAlias": "7999"}, path="/RPC2/")
    assert reply.status == 401
    wrong = {"authenticationUser": "x", "authenticationPassword": "y", "conferenceAlias": "7999"}
    assert post_rpc("httpx", bridge, "factory.health.query", wrong, path="/RPC2/").fault_code == 15
    assert fault(bridge, "conference.status", {"conferenceName": "7999"})[0] == 4


def test_unknown_conference_fault_string_says_not_found(bridge: Bridge) -> None:
    """Conductor clients match "not found"; MCU clients match the code, 4."""
    code, text = fault(bridge, "conference.destroy", {"conferenceName": "never-made"}, path="/RPC2/")
    assert code == 4
    assert text.startswith("no such conference or auto attendant")
    assert "not found" in text


def test_factory_conference_ids_filter_pages_through_other_conferences(bridge: Bridge) -> None:
    """Participants of other conferences are skipped page by page: each asked-for one comes exactly once."""
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": "big-room"})
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": "small-room"})
    for index in range(14):
        room = "small-room" if index % 5 == 0 else "big-room"
        member = {"conferenceName": room, "participantName": f"p{index}"}
        rpc(bridge, "participant.add", {**member, "address": f"p{index}@x"})
    small = enumerate_all(bridge, "participant.enumerate", "participants", {"factoryConferenceIds": ["small-room"]})
    assert sorted(p["participantName"] for p in small) == ["p0", "p10", "p5"]
    big = enumerate_all(bridge, "participant.enumerate", "participants", {"factoryConferenceIds": ["big-room"]})
    assert len(big) == 11
    assert len({p["participantName"] for p in big}) == 11
    rpc(bridge, "participant.remove", {"conferenceName": "small-room", "participantName": "p5"})
    dead = rpc(bridge, "participant.enumerate", {"factoryConferenceIds": ["big-room"], "lastRevision": 0})
    assert all(p["conferenceName"] == "big-room" for p in dead.get("participants", []))
    for room in ("big-room", "small-room"):
        rpc(bridge, "conference.destroy", {"conferenceName": room})


def test_participant_enumerate_by_conference_name(bridge: Bridge) -> None:
    rpc(bridge, "factory.conferencecreate", {"conferenceAlias": "named-room"})
    rpc(bridge, "participant.add", {"conferenceName": "named-room", "participantName": "n1", "address": "n1@x"})
    rpc(bridge, "conference.create", {"conferenceName": "elsewhere"})
    rpc(bridge, "participant.add", {"conferenceName": "elsewhere", "participantName": "e1", "address": "e1@x"})
    named = enumerate_all(bridge, "participant.enumerate", "participants", {"conferenceName": "named-room"})
    assert [(p["conferenceName"], p["participantName"]) for p in named] == [("named-room", "n1")]
    everyone = enumerate_all(bridge, "participant.enumerate", "participants", {})
    assert {"n1", "e1"} <= {p["participantName"] for p in everyone}
    for room in ("named-room", "elsewhere"):
        rpc(bridge, "conference.destroy", {"conferenceName": room})
