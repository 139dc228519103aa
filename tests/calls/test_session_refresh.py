"""RFC 4028 session timers on real calls (SIPp callers, real Janus): the bridge as the refresher, and the caller
as the refresher by re-INVITE and UPDATE.

The service's Min-SE is the RFC's floor (90 s, no setting), so the bridge's refresh comes 45 s into a call: the
cases that wait for it run side by side in one test.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.calls.conftest import CallingBridge, finish_uac, start_uac
from tests.sip_registration.conftest import rpc, wait_until

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed (apt-get install janus)")


def _callers(bridge: Any, conference: str) -> list[dict[str, Any]]:
    found = rpc(bridge, "participant.enumerate").get("participants", [])
    return [p for p in found if p["conferenceName"] == conference]


def _connected(bridge: Any, conference: str) -> Callable[[], bool | None]:
    return lambda: [c["currentState"]["callState"] for c in _callers(bridge, conference)] == ["connected"] or None


def _gone(bridge: Any, conference: str) -> Callable[[], bool]:
    return lambda: not _callers(bridge, conference)


def test_the_bridge_refreshes_by_update_or_reinvite_and_hangs_up_when_refused(
    calling: CallingBridge, tmp_path: Path
) -> None:
    b = calling.bridge
    conferences = {"se-kept": "7821", "se-481": "7822", "se-408": "7823", "se-reinvite": "7825"}
    for name, number in conferences.items():
        rpc(b, "conference.create", conferenceName=name, numericId=number)
    try:
        # no refresher asked for and no timer support: the bridge must be the refresher (RFC 4028 section 9)
        kept = start_uac(
            tmp_path / "kept",
            "uac_bridge_refreshes.xml",
            calling.sip_port,
            "7821",
            keys={"supported": "replaces", "refresher_param": "", "pause": "5000"},
            timeout_s=80,
        )
        # a caller whose Allow lacks UPDATE is refreshed by re-INVITE
        reinvited = start_uac(
            tmp_path / "reinvite", "uac_bridge_refreshes_by_reinvite.xml", calling.sip_port, "7825",
            keys={"pause": "5000"}, timeout_s=80,
        )  # fmt: skip
        refused = {
            status: start_uac(
                tmp_path / str(status),
                "uac_bridge_refresh_refused.xml",
                calling.sip_port,
                number,
                keys={"supported": "timer", "refresher_param": ";refresher=uas", "refresh_reply": reply},
                timeout_s=80,
            )
            for status, number, reply in (
                (481, "7822", "481 Call/Transaction Does Not Exist"),
                (408, "7823", "408 Request Timeout"),
            )
        }
        for name in conferences:
            wait_until(f"{name}: caller connected", _connected(b, name), timeout=20)
        kept_log, reinvited_log = kept[1] / "messages.log", reinvited[1] / "messages.log"
        wait_until("the bridge's UPDATE", lambda: "UPDATE sip:caller@" in kept_log.read_text() or None, timeout=60)
        wait_until("its re-INVITE", lambda: "INVITE sip:caller@" in reinvited_log.read_text() or None, timeout=10)
        # refreshed and answered 200: the calls are still up (their BYE, seconds on, gets the bridge's 200)
        for name in ("se-kept", "se-reinvite"):
            assert [c["currentState"]["callState"] for c in _callers(b, name)] == ["connected"]
        log = finish_uac(*kept, timeout=30)
        assert log.count("UPDATE sip:caller@") == 1
        log = finish_uac(*reinvited, timeout=30)
        assert "UPDATE sip:" not in log
        # the refresh offers the bridge's SDP unchanged, version and port included (RFC 3264 section 8)
        sdps = re.findall(r"o=adhoc-bridge \d+ \d+ .*?m=audio \d+", log, re.S)
        assert len(sdps) >= 2
        assert len(set(sdps)) == 1, sdps
        for status, (proc, workdir) in refused.items():
            log = finish_uac(proc, workdir, timeout=30)  # exits 0 only once the bridge's BYE came after the refusal
            assert f"SIP/2.0 {status} " in log
            assert "BYE sip:caller@" in log
        for name in conferences:
            wait_until(f"{name}: caller gone", _gone(b, name), timeout=10)
    finally:
        for name in conferences:
            rpc(b, "conference.destroy", conferenceName=name)


def _answers(log: str) -> list[tuple[str, str, int]]:
    """(session id, version, audio port) of every SDP the bridge sent, in order (retransmissions once)."""
    found: list[tuple[str, str, int]] = []
    for body in re.findall(r"o=adhoc-bridge (\d+) (\d+) .*?m=audio (\d+)", log, re.S):
        entry = (body[0], body[1], int(body[2]))
        if not found or found[-1] != entry:
            found.append(entry)
    return found


def test_the_caller_refreshes_by_reinvite_and_update(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="se-uac", numericId="7824")
    try:
        proc, workdir = start_uac(tmp_path, "uac_refreshes.xml", calling.sip_port, "7824", keys={"pause": "1000"})
        wait_until("caller connected", _connected(b, "se-uac"), timeout=20)
        log = finish_uac(proc, workdir)  # every 200 kept the caller the refresher (Session-Expires, Require)
        (first_sid, first_version, first_port), (sid, version, port) = _answers(log)
        assert sid == first_sid  # the same session (RFC 3264 section 8: only the version may change)
        assert int(version) in (int(first_version), int(first_version) + 1)
        assert port == first_port  # an unchanged offer leaves the media where it was
        assert "UPDATE sip:caller@" not in log  # the caller refreshes: the bridge sends no refresh of its own
        wait_until("caller gone", _gone(b, "se-uac"), timeout=10)
    finally:
        rpc(b, "conference.destroy", conferenceName="se-uac")
