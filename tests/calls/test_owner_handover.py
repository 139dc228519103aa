"""The owner of SIP and media killed (SIGKILL, by PID) with calls up, in a service of two workers and in two
instances sharing a database: its calls end, another process takes the lease, binds the SIP socket and runs a
fresh Janus, the dead owner's callers leave participant.enumerate, its dial-out is dialled again, and a new call
to the same conference works."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.calls.conftest import calling_env, finish_uac, start_uac
from tests.calls.test_baresip import phone_config
from tests.conftest import BridgeFactory
from tests.sip.conftest import HOST, free_port
from tests.sip_registration.conftest import rpc, wait_until
from tests.support.bridge import Bridge
from tests.support.janus import pid_alive

pytestmark = pytest.mark.skipif(
    shutil.which("janus") is None or shutil.which("baresip") is None,
    reason="needs janus and baresip-core (apt-get install janus baresip-core)",
)

OWNER_RE = re.compile(r"this worker now owns SIP registration owner=\S+?:(\d+):[0-9a-f]+")
JANUS_RE = re.compile(r"janus started pid=(\d+)")
ORPHANED_PAUSE_MS = 35000  # the callers hang up after the lease (15 s) passed to the other worker


def _owners(bridges: list[Bridge]) -> list[int]:
    """PIDs of the processes that took the lease, oldest first, whichever bridge's log says so."""
    lines = [line for bridge in bridges for line in bridge.log_text().splitlines() if OWNER_RE.search(line)]
    return [int(OWNER_RE.search(line).group(1)) for line in sorted(lines)]  # type: ignore[union-attr]


def _janus_starts(bridges: list[Bridge]) -> list[int]:
    return [int(pid) for bridge in bridges for pid in JANUS_RE.findall(bridge.log_text())]


def _participants(bridge: Bridge, conference: str) -> list[dict[str, Any]]:
    found = rpc(bridge, "participant.enumerate").get("participants", [])
    return [p for p in found if p["conferenceName"] == conference]


def _states(bridge: Bridge, conference: str) -> dict[str, tuple[str, str | None]]:
    """participantName -> (callState, connectTime as text) for every participant of the conference."""
    return {
        p["participantName"]: (p["currentState"]["callState"], str(p["currentState"].get("connectTime")))
        for p in _participants(bridge, conference)
    }


def _when(check: Callable[[], bool]) -> Callable[[], bool | None]:
    return lambda: check() or None


@pytest.mark.parametrize("layout", ["two workers", "two instances"])
def test_a_killed_owner_s_calls_end_and_the_next_owner_starts_clean(
    bridge_factory: BridgeFactory, tmp_path: Path, layout: str
) -> None:
    sip_port = free_port()
    env = calling_env(sip_port)
    data_dir = tmp_path / "data"  # for two instances: one SQLite database and keyring, as a shared volume gives
    if layout == "two workers":
        bridges = [bridge_factory(data_dir=data_dir, env_overrides={**env, "ADHOC_SERVER__WORKERS": "2"})]
    else:
        bridges = [bridge_factory(data_dir=data_dir, env_overrides=env) for _ in range(2)]
    home = tmp_path / "phone"
    phone_port = phone_config(home, 3, 1000, auto_answer=True)
    with (home / "stdout.txt").open("wb") as out:
        phone = subprocess.Popen(
            ["baresip", "-f", str(home), "-t", "90"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    callers: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        (owner,) = wait_until("an owner with its janus ready", lambda: _owners(bridges), timeout=30)
        (janus,) = _janus_starts(bridges)
        # XML-RPC goes to a process that lives on (any worker or instance serves it the same)
        bridge = next((b for b in bridges if b.process.pid != owner), bridges[0])
        rpc(bridge, "conference.create", conferenceName="handover", numericId="7831")
        for index in range(2):
            callers.append(
                start_uac(
                    tmp_path / f"caller{index}",
                    "uac_call_orphaned.xml",
                    sip_port,
                    "7831",
                    keys={"pause": str(ORPHANED_PAUSE_MS)},
                    timeout_s=80,
                )
            )
        rpc(
            bridge,
            "participant.add",
            conferenceName="handover",
            participantName="dialled",
            participantProtocol="sip",
            address=f"sip:phone3@{HOST}:{phone_port}",
        )
        wait_until(
            "two callers and the dialled phone connected",
            _when(lambda: sorted(s for s, _ in _states(bridge, "handover").values()) == ["connected"] * 3),
            timeout=20,
        )
        dialled_before = _states(bridge, "handover")["dialled"][1]

        os.kill(owner, signal.SIGKILL)  # no BYE, no lease release, no Janus shutdown: the process just ends

        (new_owner,) = wait_until("the next owner", lambda: _owners(bridges)[1:], timeout=30)
        assert new_owner != owner
        (new_janus,) = wait_until("its janus", lambda: _janus_starts(bridges)[1:], timeout=30)
        assert pid_alive(new_janus)
        wait_until("the dead owner's janus gone", _when(lambda: not pid_alive(janus)), timeout=10)

        # the dead owner's callers are gone, not left connected; its dial-out is dialled again by the new owner
        def clean() -> bool:
            states = _states(bridge, "handover")
            return list(states) == ["dialled"] and states["dialled"][0] == "connected"

        wait_until("only the re-dialled phone left", _when(clean), timeout=30)
        assert _states(bridge, "handover")["dialled"][1] != dialled_before  # a new call, not the old one's record

        # a new caller gets into the same conference on the new owner
        again, again_dir = start_uac(tmp_path / "again", "uac_call.xml", sip_port, "7831", keys={"pause": "3000"})
        wait_until(
            "the new caller connected",
            _when(lambda: sorted(s for s, _ in _states(bridge, "handover").values()) == ["connected"] * 2),
            timeout=20,
        )
        assert "SIP/2.0 200 OK" in finish_uac(again, again_dir)
        for proc, workdir in callers:  # exits 0 only if the BYE after the pause was answered 481 (no such call)
            assert "SIP/2.0 481" in finish_uac(proc, workdir, timeout=60)
        rpc(bridge, "conference.destroy", conferenceName="handover")
    finally:
        for proc, _ in callers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if phone.poll() is None:
            phone.kill()
            phone.wait()
