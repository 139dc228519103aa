"""A real bridge with its SIP socket on a known port, and SIPp callers."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sip.conftest import HOST, SCENARIOS, free_port, require_binary
from tests.sip_registration.conftest import rpc, wait_until
from tests.support.bridge import Bridge, start_bridge


@dataclass
class CallingBridge:
    bridge: Bridge
    sip_port: int


def calling_env(sip_port: int) -> dict[str, str | None]:
    low = random.randrange(20000, 38000, 2)  # Janus's RTP ports: apart from parallel runs' and the phones'
    return {
        "ADHOC_SIP__LOCAL_PORT": str(sip_port),
        "ADHOC_SIP__LOCAL_HOST": HOST,
        "ADHOC_MEDIA__RTP_PORTS": f"{low}-{low + 199}",
    }


@pytest.fixture(scope="module")
def calling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallingBridge]:
    port = free_port()
    bridge = start_bridge(
        tmp_path_factory.mktemp("calls"),
        env_overrides={"ADHOC_SIP__LOCAL_PORT": str(port), "ADHOC_SIP__LOCAL_HOST": HOST},
    )
    if shutil.which("janus") is not None:
        wait_until("janus ready", lambda: "janus ready" in bridge.log_text() or None, timeout=30)
    yield CallingBridge(bridge, port)
    bridge.stop()


def run_uac(tmp: Path, scenario: str, target_port: int, service: str, *, extra: tuple[str, ...] = ()) -> str:
    """Run one SIPp UAC call to ``service@127.0.0.1:target_port``; returns its message log."""
    sipp = require_binary("sipp")
    workdir = tmp / f"uac-{Path(scenario).name}-{service}"
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sipp, f"{HOST}:{target_port}", "-sf", str(SCENARIOS / scenario), "-s", service,
        "-i", HOST, "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_msg",
        "-message_file", str(workdir / "messages.log"), "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-timeout", "20s", "-timeout_error", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, timeout=40, stdin=subprocess.DEVNULL, check=False)
    log = (workdir / "messages.log").read_text(errors="replace") if (workdir / "messages.log").exists() else ""
    errors = (workdir / "errors.log").read_text(errors="replace") if (workdir / "errors.log").exists() else ""
    assert proc.returncode == 0, f"sipp exit {proc.returncode}\n{errors[-3000:]}\n{log[-3000:]}"
    return log


def start_uac(
    tmp: Path,
    scenario: str,
    target_port: int,
    service: str,
    *,
    keys: dict[str, str],
    timeout_s: int = 30,
    transport: str = "u1",
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start one SIPp UAC call in the background; returns the process and its work directory."""
    sipp = require_binary("sipp")
    workdir = tmp / f"uac-{Path(scenario).name}-{service}-{transport}"
    workdir.mkdir(parents=True, exist_ok=True)
    text = (SCENARIOS / scenario).read_text()
    for key, value in keys.items():  # SIPp substitutes -key values in messages only, not in attributes
        text = text.replace(f"[{key}]", value)
    scenario_file = workdir / Path(scenario).name
    scenario_file.write_text(text)
    cmd = [
        sipp, f"{HOST}:{target_port}", "-sf", str(scenario_file), "-s", service,
        "-i", HOST, "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_msg", "-mp", str(free_port()),
        "-message_file", str(workdir / "messages.log"), "-trace_err", "-error_file", str(workdir / "errors.log"),
        "-timeout", f"{timeout_s}s", "-timeout_error", "-t", transport,
    ]  # fmt: skip
    out = (workdir / "stdout.txt").open("wb")
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    return proc, workdir


def finish_uac(proc: subprocess.Popen[bytes], workdir: Path, timeout: float = 40) -> str:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = -9
    log = (workdir / "messages.log").read_text(errors="replace") if (workdir / "messages.log").exists() else ""
    errors = (workdir / "errors.log").read_text(errors="replace") if (workdir / "errors.log").exists() else ""
    assert code == 0, f"sipp exit {code}\n{errors[-3000:]}\n{log[-4000:]}"
    return log


def participant_of(bridge: Any, conference: str, name: str) -> dict[str, Any]:
    """The one participant ``name`` of ``conference`` in ``participant.enumerate``."""
    found = rpc(bridge, "participant.enumerate").get("participants", [])
    (match,) = [p for p in found if p["conferenceName"] == conference and p["participantName"] == name]
    return dict(match)


def call_state_of(bridge: Any, conference: str, name: str) -> str:
    return str(participant_of(bridge, conference, name)["currentState"]["callState"])
