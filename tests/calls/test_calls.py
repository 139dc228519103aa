"""Real calls (SIPp callers) into a conference mixed by a real Janus, driven through the real service."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.calls.conftest import CallingBridge, calling_env, finish_uac, start_uac
from tests.sip.conftest import SCENARIOS, free_port
from tests.sip_registration.conftest import rpc, wait_until
from tests.support.bridge import start_bridge
from tests.support.janus import RawJanus

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed (apt-get install janus)")


def _callers(bridge: Any, conference: str) -> list[dict[str, Any]]:
    found = rpc(bridge, "participant.enumerate").get("participants", [])
    return [p for p in found if p["conferenceName"] == conference]


def test_early_offer_call_is_a_participant_until_it_hangs_up(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-early", numericId="7601")
    try:
        proc, workdir = start_uac(tmp_path, "uac_call.xml", calling.sip_port, "7601", keys={"pause": "4000"})

        def connected() -> list[dict[str, Any]] | None:
            callers = _callers(b, "call-early")
            return callers if callers and callers[0]["currentState"]["callState"] == "connected" else None

        (caller,) = wait_until("caller connected", connected, timeout=20)
        assert caller["participantType"] == "ad_hoc"
        assert caller["participantProtocol"] == "sip"
        state = caller["currentState"]
        assert state["displayName"] == "SIPp Caller"
        assert state["callDirection"] == "incoming"
        assert state["address"].startswith("sip:caller@127.0.0.1")
        assert "connectTime" in state
        finish_uac(proc, workdir)
        wait_until("caller gone", lambda: not _callers(b, "call-early"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-early")


@pytest.mark.parametrize(
    "how", ["participant.disconnect", "participant.remove", "conference.destroy", "conference.end"]
)
def test_the_bridge_hangs_up(calling: CallingBridge, tmp_path: Path, how: str) -> None:
    b = calling.bridge
    name = f"call-{how.split('.')[1]}"
    number = {"participant.disconnect": "7701", "participant.remove": "7703", "conference.destroy": "7702"}.get(
        how, "7704"
    )
    rpc(b, "conference.create", conferenceName=name, numericId=number)
    destroyed = False
    try:
        proc, workdir = start_uac(tmp_path, "uac_call.xml", calling.sip_port, number, keys={"pause": "25000"})
        (caller,) = wait_until("caller joined", lambda: _callers(b, name) or None, timeout=20)
        wait_until(
            "caller connected",
            lambda: _callers(b, name)[0]["currentState"]["callState"] == "connected" or None,
            timeout=20,
        )
        if how.startswith("participant."):
            rpc(
                b,
                how,
                conferenceName=name,
                participantName=caller["participantName"],
                participantType="ad_hoc",
                participantProtocol="sip",
            )
        else:
            rpc(b, how, conferenceName=name)
            destroyed = how == "conference.destroy"
        log = finish_uac(proc, workdir)  # the scenario exits 0 only once it received a BYE and answered it
        assert "BYE sip:caller@127.0.0.1" in log
        if not destroyed:
            wait_until("caller gone", lambda: not _callers(b, name), timeout=10)
    finally:
        if not destroyed:
            rpc(b, "conference.destroy", conferenceName=name)


def test_delayed_offer_call(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-delayed", numericId="7801")
    try:
        proc, workdir = start_uac(tmp_path, "uac_delayed_offer.xml", calling.sip_port, "7801", keys={"pause": "3000"})

        def connected() -> list[dict[str, Any]] | None:
            callers = _callers(b, "call-delayed")
            return callers if callers and callers[0]["currentState"]["callState"] == "connected" else None

        (caller,) = wait_until("caller connected", connected, timeout=20)
        assert caller["currentState"]["displayName"] == "Delayed Caller"
        finish_uac(proc, workdir)
        wait_until("caller gone", lambda: not _callers(b, "call-delayed"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-delayed")


def test_cancel_before_answer(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-cancel", numericId="7802")
    try:
        proc, workdir = start_uac(tmp_path, "uac_cancel.xml", calling.sip_port, "7802", keys={})
        log = finish_uac(proc, workdir)
        assert "SIP/2.0 487" in log
        wait_until("no caller left", lambda: not _callers(b, "call-cancel"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-cancel")


def test_unacked_200_is_retransmitted_then_the_call_is_cleared(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-noack", numericId="7803")
    try:
        proc, workdir = start_uac(tmp_path, "uac_no_ack.xml", calling.sip_port, "7803", keys={}, timeout_s=55)
        log = finish_uac(proc, workdir, timeout=60)
        assert log.count("SIP/2.0 200 OK") >= 3  # the first 200 and at least two retransmissions
        assert "BYE sip:caller@127.0.0.1" in log
        wait_until("caller gone", lambda: not _callers(b, "call-noack"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-noack")


def test_reinvite_to_hold_and_back(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-hold", numericId="7804")
    try:
        proc, workdir = start_uac(tmp_path, "uac_hold_resume.xml", calling.sip_port, "7804", keys={})
        log = finish_uac(proc, workdir)  # each 200 is checked for the reverse direction and the running codec
        assert log.count("a=recvonly") == 1
        wait_until("caller gone", lambda: not _callers(b, "call-hold"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-hold")


def test_a_call_over_tcp(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-tcp", numericId="7805")
    try:
        proc, workdir = start_uac(
            tmp_path, "uac_call.xml", calling.sip_port, "7805", keys={"pause": "1500"}, transport="t1"
        )
        (caller,) = wait_until("caller joined", lambda: _callers(b, "call-tcp") or None, timeout=20)
        assert caller["participantProtocol"] == "sip"
        log = finish_uac(proc, workdir)
        assert "Via: SIP/2.0/TCP" in log
        wait_until("caller gone", lambda: not _callers(b, "call-tcp"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-tcp")


def test_options_ping_is_answered(calling: CallingBridge, tmp_path: Path) -> None:
    proc, workdir = start_uac(tmp_path, "uac_options.xml", calling.sip_port, "options", keys={})
    assert "SIP/2.0 200 OK" in finish_uac(proc, workdir)


def test_janus_killed_during_a_call_hangs_up_and_new_calls_work_once_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    bridge = start_bridge(tmp_path / "data", env_overrides=calling_env(port))
    try:
        wait_until("janus ready", lambda: "janus ready" in bridge.log_text() or None, timeout=30)
        rpc(bridge, "conference.create", conferenceName="call-janus", numericId="7806")
        proc, workdir = start_uac(tmp_path, "uac_call.xml", port, "7806", keys={"pause": "25000"})
        wait_until(
            "caller connected",
            lambda: [c["currentState"]["callState"] for c in _callers(bridge, "call-janus")] == ["connected"] or None,
            timeout=20,
        )
        (janus_pid,) = {int(pid) for pid in re.findall(r"janus started pid=([0-9]+)", bridge.log_text())}
        os.kill(janus_pid, signal.SIGKILL)
        log = finish_uac(proc, workdir)  # exits 0 only after the bridge's BYE
        assert "BYE sip:caller@127.0.0.1" in log
        wait_until("caller gone", lambda: not _callers(bridge, "call-janus"), timeout=10)
        wait_until("janus back", lambda: len(re.findall("janus ready", bridge.log_text())) >= 2 or None, timeout=30)
        again, again_dir = start_uac(tmp_path / "again", "uac_call.xml", port, "7806", keys={"pause": "500"})
        assert "SIP/2.0 200 OK" in finish_uac(again, again_dir)
        assert rpc(bridge, "conference.status", conferenceName="call-janus")["conferenceName"] == "call-janus"
    finally:
        bridge.stop()


def _janus(bridge: Any) -> RawJanus:
    url = re.findall(r"janus started pid=[0-9]+ api=(\S+)", bridge.log_text())[-1]
    config = (bridge.data_dir / "janus" / "janus.jcfg").read_text()
    secret = re.search(r'api_secret = "([^"]*)"', config)
    return RawJanus(url, secret.group(1) if secret else None)


def test_audio_rx_muted_mutes_the_caller_in_the_mix_and_the_room_goes_with_the_conference(
    calling: CallingBridge, tmp_path: Path
) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-mute", numericId="7807")
    room = rpc(b, "conference.status", conferenceName="call-mute")["uniqueId"]
    janus = _janus(b)
    proc, workdir = start_uac(tmp_path, "uac_call.xml", calling.sip_port, "7807", keys={"pause": "25000"})
    destroyed = False
    try:
        (caller,) = wait_until("caller joined", lambda: _callers(b, "call-mute") or None, timeout=20)

        def muted_in_janus() -> bool | None:
            found = asyncio.run(_participants(janus, room))
            return True if found and all(p.get("muted") for p in found) else None

        rpc(
            b,
            "participant.modify",
            conferenceName="call-mute",
            participantName=caller["participantName"],
            participantType="ad_hoc",
            participantProtocol="sip",
            audioRxMuted=True,
        )
        wait_until("caller muted in the mix", muted_in_janus, timeout=10)
        rpc(b, "conference.destroy", conferenceName="call-mute")
        destroyed = True
        finish_uac(proc, workdir)
        wait_until("room destroyed", lambda: room not in asyncio.run(_rooms(janus)) or None, timeout=10)
    finally:
        if not destroyed:
            rpc(b, "conference.destroy", conferenceName="call-mute")


async def _participants(janus: RawJanus, room: int) -> list[dict[str, Any]]:
    try:
        return await janus.participants(room)
    finally:
        await janus.close()
        janus.session = None
        janus.client = httpx.AsyncClient(timeout=10)


async def _rooms(janus: RawJanus) -> set[int]:
    try:
        return await janus.rooms()
    finally:
        await janus.close()
        janus.session = None
        janus.client = httpx.AsyncClient(timeout=10)


def test_session_timer_with_the_caller_as_refresher(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-se", numericId="7808")
    try:
        text = (SCENARIOS / "uac_call.xml").read_text()
        text = text.replace(
            "Max-Forwards: 70\n      Content-Type",
            "Max-Forwards: 70\n      Supported: timer\n      Session-Expires: 1800;refresher=uac\n      Content-Type",
            1,
        )
        text = text.replace(
            '<ereg regexp="m=audio [0-9]+ RTP/AVP 0 101" search_in="body" check_it="true" assign_to="m" />',
            '<ereg regexp="Session-Expires: 1800;refresher=uac" search_in="msg" check_it="true" assign_to="m" />',
        )
        scenario = tmp_path / "session_timer.xml"
        scenario.write_text(text)
        proc, workdir = start_uac(tmp_path, str(scenario), calling.sip_port, "7808", keys={"pause": "500"})
        log = finish_uac(proc, workdir)
        assert re.search(r"(?m)^Require: timer", log)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-se")


def test_update_refreshes_the_session(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="call-update", numericId="7809")
    try:
        proc, workdir = start_uac(tmp_path, "uac_update_refresh.xml", calling.sip_port, "7809", keys={})
        log = finish_uac(proc, workdir)  # the UPDATE's 200 carries the refreshed Session-Expires
        assert "UPDATE sip:" in log
        wait_until("caller gone", lambda: not _callers(b, "call-update"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="call-update")
