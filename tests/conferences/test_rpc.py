"""conference.* and participant.* over HTTPS with in-body credentials, as CUCM and MCU clients call them."""

from __future__ import annotations

import datetime
import xmlrpc.client
from typing import Any

import pytest

from tests.conferences.conftest import MAX_PARTICIPANTS, call, enumerate_all, fault_of
from tests.conftest import BridgeFactory
from tests.support.bridge import Bridge, auth

OK = {"status": "operation successful"}


def test_cucm_ad_hoc_session(mcu: Bridge) -> None:
    with mcu.rpc() as proxy:
        device: dict[str, Any] = proxy.device.query(auth())  # type: ignore[assignment]
        assert device["apiVersion"] == "2.9"
        assert proxy.conference.create(auth(conferenceName="cucm-0001", numericId="8880001", durationSeconds=0)) == OK
        status: dict[str, Any] = proxy.conference.status(auth(conferenceName="cucm-0001"))  # type: ignore[assignment]
        assert status["conferenceName"] == "cucm-0001"
        assert status["numericId"] == "8880001"
        assert status["conferenceActive"] is True
        assert status["conferenceType"] == "scheduled"
        assert "activeEndTime" not in status  # permanent
        added = proxy.participant.add(
            auth(
                conferenceName="cucm-0001",
                participantName="alice",
                address="sip:alice@example.com",
                participantProtocol="sip",
                addResponse=True,
            )
        )
        assert added == {
            "participant": {
                "participantName": "alice",
                "participantProtocol": "sip",
                "participantType": "by_address",
                "conferenceName": "cucm-0001",
            }
        }
        listed: dict[str, Any] = proxy.participant.enumerate(  # type: ignore[assignment]
            auth(operationScope=["currentState", "configuredState"])
        )
        (alice,) = [p for p in listed["participants"] if p["conferenceName"] == "cucm-0001"]
        # The bridge places a real call to her: connecting until answered (example.com never answers).
        assert alice["currentState"]["callState"] in ("connecting", "disconnected")
        assert alice["configuredState"]["address"] == "sip:alice@example.com"
        assert alice["connectionUniqueId"] == status["uniqueId"]
        assert proxy.participant.remove(auth(conferenceName="cucm-0001", participantName="alice")) == OK
        assert proxy.conference.destroy(auth(conferenceName="cucm-0001")) == OK
        with pytest.raises(xmlrpc.client.Fault) as raised:
            proxy.conference.status(auth(conferenceName="cucm-0001"))
    assert raised.value.faultCode == 4


def test_create_stores_documented_optional_fields_and_ignores_unknown_members(mcu: Bridge) -> None:
    start = datetime.datetime(2030, 1, 2, 3, 4, 5)
    reply = call(
        mcu,
        "conference.create",
        conferenceName="opts",
        numericId="7001",
        guestNumericId="7002",
        pin="1234",
        guestPin="5678",
        description="weekly sync",
        private=True,
        registerWithSIPRegistrar=True,
        maximumVideoPorts=2,
        maximumAudioPorts=1,
        startTime=xmlrpc.client.DateTime(start),
        durationSeconds=3600,
        someFutureMember="ignored",
        anotherOne=[1, 2],
    )
    assert reply == OK
    status = call(mcu, "conference.status", conferenceName="opts")
    assert status["guestNumericId"] == "7002"
    assert (status["pin"], status["guestPin"], status["description"]) == ("1234", "5678", "weekly sync")
    assert status["private"] is True
    assert status["registerWithSIPRegistrar"] is True
    assert (status["maximumVideoPorts"], status["maximumAudioPorts"]) == (2, 1)
    assert str(status["startTime"]) == "20300102T03:04:05"
    assert status["durationSeconds"] == 3600
    assert status["conferenceActive"] is False  # not started yet
    assert "someFutureMember" not in status


def test_modify_renames_and_changes_numeric_ids(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="mod-a", numericId="6001")
    call(mcu, "conference.create", conferenceName="mod-b", numericId="6002")
    assert fault_of(mcu, "conference.modify", conferenceName="mod-a", newConferenceName="mod-b")[0] == 2
    assert fault_of(mcu, "conference.modify", conferenceName="mod-a", guestNumericId="6002")[0] == 18
    call(mcu, "conference.modify", conferenceName="mod-a", newConferenceName="mod-c", numericId="6003", locked=True)
    assert fault_of(mcu, "conference.status", conferenceName="mod-a")[0] == 4
    status = call(mcu, "conference.status", conferenceName="mod-c")
    assert (status["numericId"], status["locked"]) == ("6003", True)
    # The released numeric ID is free again; the new one is taken.
    call(mcu, "conference.create", conferenceName="mod-d", numericId="6001")
    assert fault_of(mcu, "conference.create", conferenceName="mod-e", numericId="6003")[0] == 18


def test_end_keeps_the_conference_as_completed(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="ending")
    call(mcu, "participant.add", conferenceName="ending", participantName="bob", address="10.0.0.9")
    assert call(mcu, "conference.end", conferenceName="ending") == OK
    status = call(mcu, "conference.status", conferenceName="ending")
    assert status["conferenceActive"] is False
    bob = call(
        mcu, "participant.status", conferenceName="ending", participantName="bob", operationScope=["currentState"]
    )
    assert bob["currentState"]["callState"] == "disconnected"
    assert bob["currentState"]["disconnectReason"] == "disconnectAll"
    completed, _ = enumerate_all(mcu, "conference.enumerate", "conferences", enumerateFilter="completed")
    assert "ending" in {c["conferenceName"] for c in completed}


def test_participant_lifecycle(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="room-1")
    call(mcu, "conference.create", conferenceName="room-2")
    base = {"conferenceName": "room-1", "participantName": "carol"}
    call(mcu, "participant.add", **base, address="carol@example.com", participantProtocol="h323", deferConnection=True)

    def state() -> str:
        reply = call(mcu, "participant.status", **base, operationScope=["currentState"])
        return str(reply["currentState"]["callState"])

    assert state() == "dormant"
    call(mcu, "participant.connect", **base)
    assert state() == "connected"
    call(mcu, "participant.disconnect", **base)
    assert state() == "disconnected"
    call(mcu, "participant.connect", **base, participantProtocol="h323", participantType="by_address")
    call(mcu, "participant.modify", **base, operationScope="configuredState", audioRxMuted=True)
    reply = call(mcu, "participant.status", **base, operationScope=["configuredState"])
    assert reply["configuredState"]["audioRxMuted"] is True
    assert "currentState" not in reply
    call(mcu, "participant.move", **base, newConferenceName="room-2")
    assert fault_of(mcu, "participant.status", **base)[0] == 5
    moved = call(mcu, "participant.status", conferenceName="room-2", participantName="carol")
    assert moved["currentState"]["callState"] == "connected"
    # The identity must match: the wrong protocol is "no such participant".
    assert (
        fault_of(
            mcu, "participant.remove", conferenceName="room-2", participantName="carol", participantProtocol="sip"
        )[0]
        == 5
    )


def test_ad_hoc_participant_gets_an_assigned_name(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="adhoc-room")
    reply = call(
        mcu,
        "participant.add",
        conferenceName="adhoc-room",
        participantName="ignored",
        participantType="ad_hoc",
        participantProtocol="sip",
        address="sip:dan@example.com",
        addResponse=True,
    )
    name = reply["participant"]["participantName"]
    assert name.isdigit()
    assert reply["participant"]["participantType"] == "ad_hoc"
    status = call(mcu, "participant.status", conferenceName="adhoc-room", participantName=name)
    assert status["configuredState"] == {}


def test_participant_enumerate_filters(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="filters")
    for name in ("f1", "f2", "f3"):
        call(mcu, "participant.add", conferenceName="filters", participantName=name, address=f"{name}@x")
    call(mcu, "participant.disconnect", conferenceName="filters", participantName="f2")

    def names(expression: str) -> set[str]:
        records, _ = enumerate_all(
            mcu, "participant.enumerate", "participants", operationScope=["currentState"], enumerateFilter=expression
        )
        return {r["participantName"] for r in records if r["conferenceName"] == "filters"}

    assert names("connected") == {"f1", "f3"}
    assert names("disconnected") == {"f2"}
    assert names("!connected && !connecting") == {"f2"}
    assert names("(connected || disconnected) && !connecting") == {"f1", "f2", "f3"}
    assert names("connecting") == set()


FAULT_CASES = [
    pytest.param("conference.frobnicate", {}, 1, id="1-method"),
    pytest.param("conference.create", {"conferenceName": "dup"}, 2, id="2-duplicate-name"),
    pytest.param("participant.add", {"conferenceName": "dup", "participantName": "p", "address": "a"}, 3, id="3"),
    pytest.param("conference.status", {"conferenceName": "nope"}, 4, id="4-no-conference"),
    pytest.param("participant.status", {"conferenceName": "dup", "participantName": "nobody"}, 5, id="5"),
    pytest.param("participant.add", {"conferenceName": "full", "participantName": "x4", "address": "a"}, 7, id="7"),
    pytest.param("conference.create", {}, 8, id="8-no-name"),
    pytest.param("conference.destroy", {"conferenceName": ""}, 8, id="8-empty-name"),
    pytest.param("participant.remove", {"conferenceName": "dup"}, 9, id="9-no-participant-name"),
    pytest.param("participant.add", {"conferenceName": "dup", "participantName": "q"}, 10, id="10-no-address"),
    pytest.param(
        "conference.create",
        {"conferenceName": "past", "startTime": xmlrpc.client.DateTime("20000101T00:00:00"), "durationSeconds": 60},
        11,
        id="11-start-time",
    ),
    pytest.param(
        "conference.create",
        {
            "conferenceName": "end",
            "startTime": xmlrpc.client.DateTime("20300101T00:00:00"),
            "endTime": xmlrpc.client.DateTime("20291231T00:00:00"),
        },
        12,
        id="12-end-time",
    ),
    pytest.param("conference.create", {"conferenceName": "pin", "pin": "12ab"}, 13, id="13-pin"),
    pytest.param("conference.create", {"conferenceName": "gpin", "guestPin": "#1"}, 13, id="13-guest-pin"),
    pytest.param("conference.enumerate", {"enumerateID": "invented"}, 16, id="16-enumerate-id"),
    pytest.param("conference.create", {"conferenceName": "res", "reservedVideoPorts": 99}, 17, id="17-reservation"),
    pytest.param("conference.create", {"conferenceName": "num", "numericId": "5550"}, 18, id="18-numeric-id"),
    pytest.param("conference.create", {"conferenceName": "num", "guestNumericId": "5550"}, 18, id="18-guest-id"),
    pytest.param(
        "participant.add",
        {"conferenceName": "dup", "participantName": "v", "address": "a", "participantProtocol": "vnc"},
        19,
        id="19-protocol",
    ),
    pytest.param(
        "participant.add",
        {"conferenceName": "dup", "participantName": "n", "address": "a", "participantType": "by_name"},
        20,
        id="20-type",
    ),
    pytest.param("conference.modify", {"conferenceName": "full", "maximumVideoPorts": 1, "maximumAudioPorts": 0}, 25),
    pytest.param("conference.create", {"conferenceName": "tpl", "templateName": "gold"}, 27, id="27-template"),
    pytest.param("conference.create", {"conferenceName": "rep", "repetition": "monthly"}, 36, id="36-required"),
    pytest.param("participant.enumerate", {"operationScope": ["everything"]}, 102, id="102-scope"),
    pytest.param("conference.create", {"conferenceName": "x" * 32}, 102, id="102-length"),
    pytest.param("conference.create", {"conferenceName": "neg", "durationSeconds": -1}, 102, id="102-negative"),
    pytest.param("conference.enumerate", {"enumerateFilter": "active &&"}, 102, id="102-filter"),
    pytest.param("conference.enumerate", {"enumerateFilter": "active / 0"}, 102, id="102-filter-division"),
    pytest.param("conference.create", {"conferenceName": 7}, 103, id="103-type"),
    pytest.param("conference.create", {"conferenceName": "t", "durationSeconds": "60"}, 103, id="103-int-as-string"),
    pytest.param(
        "conference.create", {"conferenceName": "tt", "templateName": "a", "templateNumber": 1}, 104, id="104-mismatch"
    ),
    pytest.param("participant.move", {"conferenceName": "dup", "participantName": "p"}, 101, id="101-missing"),
]


@pytest.fixture(scope="module")
def fault_fixtures(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="dup", numericId="5550")
    call(mcu, "participant.add", conferenceName="dup", participantName="p", address="a")
    call(mcu, "conference.create", conferenceName="full")
    for index in range(MAX_PARTICIPANTS):
        call(mcu, "participant.add", conferenceName="full", participantName=f"x{index + 1}", address="a")


@pytest.mark.usefixtures("fault_fixtures")
@pytest.mark.parametrize(("method", "params", "code"), FAULT_CASES)
def test_fault_codes(mcu: Bridge, method: str, params: dict[str, object], code: int) -> None:
    assert fault_of(mcu, method, **params)[0] == code


def test_faults_name_the_member(mcu: Bridge) -> None:
    assert fault_of(mcu, "conference.create", conferenceName="z", durationSeconds="60") == (
        103,
        "malformed parameter - durationSeconds",
    )
    assert fault_of(mcu, "conference.create", conferenceName="z", description="d" * 32) == (
        102,
        "invalid parameter - description",
    )
    assert fault_of(mcu, "participant.add", conferenceName="z", participantName="y", address="a" * 64) == (
        102,
        "invalid parameter - address",
    )


def test_too_many_conferences(bridge_factory: BridgeFactory) -> None:
    small = bridge_factory(env_overrides={"ADHOC_CONFERENCES__MAX_CONFERENCES": "2"})
    call(small, "conference.create", conferenceName="one")
    call(small, "conference.create", conferenceName="two")
    assert fault_of(small, "conference.create", conferenceName="three")[0] == 6
    call(small, "conference.destroy", conferenceName="one")
    assert call(small, "conference.create", conferenceName="three") == OK
