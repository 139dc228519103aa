"""Routing an INVITE to a conference, over real SIP (SIPp) to the real service, with no media engine."""

from __future__ import annotations

import re
import xmlrpc.client
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.calls.conftest import CallingBridge, run_uac
from tests.sip.conftest import SCENARIOS, free_port
from tests.sip_registration.conftest import rpc
from tests.support.bridge import start_bridge


def _final_status(log: str) -> tuple[int, str]:
    finals = re.findall(r"^SIP/2\.0 ([2-6][0-9][0-9]) .*$", log, flags=re.M)
    assert finals, log
    status = int(finals[-1])
    block = log[log.rfind(f"SIP/2.0 {status}") :]
    return status, block.split("\n\n", 1)[0]


def test_refusals(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="route-open", numericId="7101", guestNumericId="7102")
    rpc(b, "conference.create", conferenceName="route-locked", numericId="7201", startLocked=True)
    rpc(b, "conference.create", conferenceName="route-pin", numericId="7301", pin="1234")
    rpc(b, "conference.create", conferenceName="route-full", numericId="7401", maximumAudioPorts=1, maximumVideoPorts=0)
    rpc(b, "participant.add", conferenceName="route-full", participantName="p1", address="sip:p1@example.com")
    later = xmlrpc.client.DateTime(datetime.now(UTC) + timedelta(hours=1))
    rpc(b, "conference.create", conferenceName="route-later", numericId="7601", startTime=later)
    try:
        assert _final_status(run_uac(tmp_path, "uac_invite_refused.xml", calling.sip_port, "9999"))[0] == 404
        assert _final_status(run_uac(tmp_path, "uac_invite_refused.xml", calling.sip_port, "7601"))[0] == 480
        assert _final_status(run_uac(tmp_path, "uac_invite_refused.xml", calling.sip_port, "7201"))[0] == 403
        status, response = _final_status(run_uac(tmp_path, "uac_invite_refused.xml", calling.sip_port, "7301"))
        assert status == 403
        assert "PIN entry is not supported yet" in response
        assert _final_status(run_uac(tmp_path, "uac_invite_refused.xml", calling.sip_port, "7401"))[0] == 486
        enumerated = rpc(b, "participant.enumerate")
        assert [p["participantName"] for p in enumerated["participants"]] == ["p1"]  # no caller left behind
    finally:
        for name in ("route-open", "route-locked", "route-pin", "route-full", "route-later"):
            rpc(b, "conference.destroy", conferenceName=name)


def _variant(tmp: Path, name: str, old: str, new: str) -> str:
    text = (SCENARIOS / "uac_invite_refused.xml").read_text()
    assert old in text
    path = tmp / name
    path.write_text(text.replace(old, new))
    return str(path)


def test_bad_offers(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="route-sdp", numericId="7501")
    try:
        srtp = _variant(
            tmp_path,
            "srtp.xml",
            "m=audio [media_port] RTP/AVP 9 0 8 101",
            "m=audio [media_port] RTP/SAVP 9 0 8 101\n      a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW",
        )
        assert _final_status(run_uac(tmp_path, srtp, calling.sip_port, "7501"))[0] == 488
        g729 = _variant(
            tmp_path, "g729.xml", "m=audio [media_port] RTP/AVP 9 0 8 101", "m=audio [media_port] RTP/AVP 18 9"
        )
        assert _final_status(run_uac(tmp_path, g729, calling.sip_port, "7501"))[0] == 488
        broken = _variant(tmp_path, "broken.xml", "c=IN IP[media_ip_type] [media_ip]", "c=IN somewhere")
        status, response = _final_status(run_uac(tmp_path, broken, calling.sip_port, "7501"))
        assert status == 400
        assert "Traceback" not in response
        assert rpc(b, "participant.enumerate").get("participants", []) == []
    finally:
        rpc(b, "conference.destroy", conferenceName="route-sdp")


def test_no_media_engine_is_503_with_retry_after(tmp_path: Path) -> None:
    port = free_port()
    bridge = start_bridge(
        tmp_path / "data",
        env_overrides={"ADHOC_SIP__LOCAL_PORT": str(port), "ADHOC_MEDIA__JANUS_BINARY": "/nonexistent/janus"},
    )
    try:
        rpc(bridge, "conference.create", conferenceName="route-nomedia", numericId="7111", guestNumericId="7112")
        for number in ("7111", "7112"):  # chair and guest number
            status, response = _final_status(run_uac(tmp_path, "uac_invite_refused.xml", port, number))
            assert status == 503
            assert re.search(r"(?im)^Retry-After: *[0-9]+", response)
        assert rpc(bridge, "participant.enumerate").get("participants", []) == []
        assert rpc(bridge, "conference.status", conferenceName="route-nomedia")["conferenceName"] == "route-nomedia"
    finally:
        bridge.stop()


def test_a_session_interval_below_min_se_is_422(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="route-se", numericId="7502")
    try:
        short = _variant(
            tmp_path,
            "short-se.xml",
            "Max-Forwards: 70\n      Content-Type",
            "Max-Forwards: 70\n      Supported: timer\n      Session-Expires: 30\n      Content-Type",
        )
        status, response = _final_status(run_uac(tmp_path, short, calling.sip_port, "7502"))
        assert status == 422
        assert re.search(r"(?im)^Min-SE: *90", response)
    finally:
        rpc(b, "conference.destroy", conferenceName="route-se")
