"""The MCU 2.9 dialect's lifecycle on /RPC2 and /RPC2/, with xmlrpc.client and curl, plus its deprecated forms."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conductor.conftest import PATHS, Client, enumerate_all, fault, rpc
from tests.support.bridge import Bridge

OK = {"status": "operation successful"}
_serial = itertools.count(1)
MEDIA_COUNTERS = (
    "audioRxLost",
    "audioRxReceived",
    "audioTxReportedLost",
    "audioTxSent",
    "videoRxLost",
    "videoRxReceived",
    "videoTxReportedLost",
    "videoTxSent",
)
# Top-level members of the deprecated participant struct (guide pp. 85-88, 106), with their types.
DEPRECATED_MEMBERS: dict[str, type] = {
    "participantName": str,
    "participantProtocol": str,
    "participantType": str,
    "conferenceName": str,
    "connectionUniqueId": int,
    "address": str,
    "gatewayAddress": str,
    "deferConnection": bool,
    "displayName": str,
    "displayNameOverrideStatus": bool,
    "maxBitRateToMCU": int,
    "maxBitRateFromMCU": int,
    "callState": str,
    "connectPending": bool,
    "audioRxMuted": bool,
    "audioRxGainMode": str,
    "audioRxGainMillidB": int,
    "videoRxMuted": bool,
    "videoTxWidescreen": bool,
    "important": bool,
    "activeSpeaker": bool,
    "layoutControlEnabled": bool,
    "cpLayout": str,
    "currentLayout": int,
    "callDirection": str,
    **dict.fromkeys(MEDIA_COUNTERS, int),
}


def _name() -> str:
    return f"mcu-{next(_serial)}"


@pytest.mark.parametrize("client", ["xmlrpc", "curl"])
@pytest.mark.parametrize("path", PATHS)
def test_mcu_conference_lifecycle(bridge: Bridge, path: str, client: Client) -> None:
    name = _name()
    kw: dict[str, Any] = {"path": path, "client": client}
    assert rpc(bridge, "conference.create", {"conferenceName": name, "startLocked": True}, **kw) == OK
    status = rpc(bridge, "conference.status", {"conferenceName": name}, **kw)
    assert (status["conferenceName"], status["startLocked"], status["locked"]) == (name, True, True)
    assert rpc(bridge, "conference.modify", {"conferenceName": name, "maximumVideoPorts": 4}, **kw) == OK
    assert rpc(bridge, "conference.status", {"conferenceName": name}, **kw)["maximumVideoPorts"] == 4
    member = {"conferenceName": name, "participantName": "alice"}
    assert rpc(bridge, "participant.add", {**member, "address": "sip:alice@example.com"}, **kw) == OK
    assert rpc(bridge, "participant.status", member, **kw)["callState"] == "connected"
    assert rpc(bridge, "participant.disconnect", member, **kw) == OK
    assert rpc(bridge, "participant.status", member, **kw)["callState"] == "disconnected"
    assert name in [c["conferenceName"] for c in enumerate_all(bridge, "conference.enumerate", "conferences", {}, **kw)]
    assert rpc(bridge, "conference.destroy", {"conferenceName": name}, **kw) == OK
    assert fault(bridge, "conference.status", {"conferenceName": name}, **kw)[0] == 4


def _with_participant(bridge: Bridge, **options: Any) -> dict[str, Any]:
    name = _name()
    rpc(bridge, "conference.create", {"conferenceName": name})
    member = {"conferenceName": name, "participantName": "bob"}
    rpc(bridge, "participant.add", {**member, "address": "h323:bob", **options})
    return member


def test_participant_status_without_operation_scope_answers_the_deprecated_struct(bridge: Bridge) -> None:
    member = _with_participant(
        bridge, displayNameOverrideStatus=True, displayNameOverrideValue="Bob B", audioRxMuted=True
    )
    reply = rpc(bridge, "participant.status", member)
    for key, kind in DEPRECATED_MEMBERS.items():
        assert isinstance(reply[key], kind), key
    assert reply["callState"] == "connected"
    assert reply["displayName"] == "Bob B"
    assert reply["audioRxMuted"] is True
    assert reply["connectTime"] is not None
    assert all(reply[counter] == 0 for counter in MEDIA_COUNTERS)  # no media flows through the bridge

    scoped = rpc(bridge, "participant.status", {**member, "operationScope": ["currentState"]})
    assert "callState" not in scoped
    assert scoped["currentState"]["callState"] == "connected"
    assert "configuredState" not in scoped


def test_participant_enumerate_without_operation_scope_answers_deprecated_structs(bridge: Bridge) -> None:
    member = _with_participant(bridge, deferConnection=True)
    listed = enumerate_all(bridge, "participant.enumerate", "participants", {})
    (mine,) = [p for p in listed if p["conferenceName"] == member["conferenceName"]]
    for key, kind in DEPRECATED_MEMBERS.items():
        assert isinstance(mine[key], kind), key
    assert (mine["callState"], mine["deferConnection"], mine["connectPending"]) == ("dormant", True, True)
    scoped = enumerate_all(bridge, "participant.enumerate", "participants", {"operationScope": ["configuredState"]})
    (mine,) = [p for p in scoped if p["conferenceName"] == member["conferenceName"]]
    assert "callState" not in mine
    assert mine["configuredState"]["deferConnection"] is True


def test_superseded_conference_participant_calls_still_work(bridge: Bridge) -> None:
    name = _name()
    rpc(bridge, "conference.create", {"conferenceName": name})
    member = {"conferenceName": name, "participantName": "old"}
    assert rpc(bridge, "conference.participant.add", {**member, "address": "h323:old"}, path="/RPC2/") == OK
    assert rpc(bridge, "conference.participant.modify", {**member, "audioRxMuted": True}) == OK
    assert rpc(bridge, "participant.status", member)["audioRxMuted"] is True
    assert rpc(bridge, "conference.participant.remove", member, client="curl") == OK
    assert fault(bridge, "participant.status", member)[0] == 5
    rpc(bridge, "conference.destroy", {"conferenceName": name})
