"""Dial-out: participant.add by address places a real call to a SIPp phone, digest challenge answered."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.calls.conftest import CallingBridge, call_state_of, participant_of
from tests.sip.conftest import SippFactory
from tests.sip_registration.conftest import (
    CREDENTIALS_PATH,
    REALM,
    SIP_USER,
    add_credential,
    admin,
    delete_credential,
    rpc,
    wait_until,
)

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed (apt-get install janus)")


@pytest.fixture
def sipp_uas(tmp_path: Path) -> Iterator[SippFactory]:
    factory = SippFactory(tmp_path)
    yield factory
    factory.stop_all()


def test_dial_out_answers_the_challenge_connects_and_hangs_up_on_disconnect(
    calling: CallingBridge, sipp_uas: SippFactory
) -> None:
    b = calling.bridge
    credential = add_credential(b)
    phone = sipp_uas.start("uas_answer_auth.xml")
    rpc(b, "conference.create", conferenceName="dial-ok", numericId="7951")
    try:
        rpc(
            b,
            "participant.add",
            conferenceName="dial-ok",
            participantName="phone",
            participantProtocol="sip",
            address=f"sip:phone@127.0.0.1:{phone.port}",
        )
        log = phone.workdir / "messages.log"
        wait_until(
            "the phone got our ACK of its 200", lambda: log.read_text().count("ACK sip:") >= 2 or None, timeout=20
        )
        wait_until("phone connected", lambda: call_state_of(b, "dial-ok", "phone") == "connected" or None, timeout=10)
        rpc(
            b,
            "participant.disconnect",
            conferenceName="dial-ok",
            participantName="phone",
            participantProtocol="sip",
            participantType="by_address",
        )
        assert phone.wait() == 0, phone.logs()  # 0 only after a verified credential, the ACK and our BYE
        state = participant_of(b, "dial-ok", "phone")["currentState"]
        assert state["callState"] == "disconnected"
    finally:
        rpc(b, "conference.destroy", conferenceName="dial-ok")
        delete_credential(b, credential)


def test_a_refused_dial_out_shows_disconnected_with_a_reason(calling: CallingBridge, sipp_uas: SippFactory) -> None:
    b = calling.bridge
    phone = sipp_uas.start("uas_busy.xml")
    rpc(b, "conference.create", conferenceName="dial-busy", numericId="7952")
    try:
        rpc(
            b,
            "participant.add",
            conferenceName="dial-busy",
            participantName="busy",
            participantProtocol="sip",
            address=f"sip:busy@127.0.0.1:{phone.port}",
        )
        assert phone.wait() == 0, phone.logs()  # it saw our ACK of its 486
        wait_until("failed", lambda: call_state_of(b, "dial-busy", "busy") == "disconnected" or None, timeout=10)
        state = participant_of(b, "dial-busy", "busy")["currentState"]
        assert state["disconnectReason"] == "486 Busy Here"
    finally:
        rpc(b, "conference.destroy", conferenceName="dial-busy")


def test_a_wrong_sip_credential_fails_once_with_a_readable_reason(
    calling: CallingBridge, sipp_uas: SippFactory
) -> None:
    b = calling.bridge
    with admin(b) as client:
        response = client.post(CREDENTIALS_PATH, json={"realm": REALM, "username": SIP_USER, "password": "wrong-pw"})
    assert response.status_code == 201, response.text
    credential = str(response.json()["resource_uri"])
    phone = sipp_uas.start("uas_answer_auth.xml")
    rpc(b, "conference.create", conferenceName="dial-wrong", numericId="7953")
    try:
        rpc(
            b,
            "participant.add",
            conferenceName="dial-wrong",
            participantName="phone",
            participantProtocol="sip",
            address=f"sip:phone@127.0.0.1:{phone.port}",
        )
        assert phone.wait() == 0, phone.logs()  # its 403 path: the ACK of the 403 arrived
        wait_until("failed", lambda: call_state_of(b, "dial-wrong", "phone") == "disconnected" or None, timeout=10)
        assert participant_of(b, "dial-wrong", "phone")["currentState"]["disconnectReason"] == "403 Forbidden"
        assert (phone.workdir / "messages.log").read_text().count("INVITE sip:phone@") == 2  # no retry loop
    finally:
        rpc(b, "conference.destroy", conferenceName="dial-wrong")
        delete_credential(b, credential)


def test_disconnect_while_ringing_cancels_the_dial_out(calling: CallingBridge, sipp_uas: SippFactory) -> None:
    b = calling.bridge
    phone = sipp_uas.start("uas_ring_cancelled.xml")
    rpc(b, "conference.create", conferenceName="dial-ring", numericId="7954")
    try:
        rpc(
            b,
            "participant.add",
            conferenceName="dial-ring",
            participantName="ringing",
            participantProtocol="sip",
            address=f"sip:ringing@127.0.0.1:{phone.port}",
        )
        log = phone.workdir / "messages.log"
        wait_until("ringing", lambda: "180 Ringing" in log.read_text() or None, timeout=20)
        assert call_state_of(b, "dial-ring", "ringing") == "connecting"
        rpc(
            b,
            "participant.disconnect",
            conferenceName="dial-ring",
            participantName="ringing",
            participantProtocol="sip",
            participantType="by_address",
        )
        assert phone.wait() == 0, phone.logs()  # CANCEL received, our ACK of its 487 too
        assert call_state_of(b, "dial-ring", "ringing") == "disconnected"
    finally:
        rpc(b, "conference.destroy", conferenceName="dial-ring")
