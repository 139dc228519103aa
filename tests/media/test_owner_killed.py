"""A service killed outright (SIGKILL) leaves no Janus behind, and the next start runs a fresh one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.bridge import REPO_ROOT
from tests.support.janus import pid_alive, require_janus, rtp_range

# Runs the engine the way the service does (uvloop), prints its Janus' PID, then waits to be killed.
OWNER = """
import asyncio, sys, uvloop
from pathlib import Path
from app.core.config import Settings
from app.media import build_media_engine

async def main() -> None:
    engine = build_media_engine(Settings(data_dir=Path(sys.argv[1]), media={"rtp_ports": sys.argv[2]}))
    await engine.start()
    print(engine.backend.pid if engine.available else "unavailable", flush=True)
    await asyncio.sleep(3600)

uvloop.run(main())
"""


def _start_owner(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data_dir), rtp_range()], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    line = owner.stdout.readline().strip()
    assert line.isdigit(), line
    return owner, int(line)


def _kill(owner: subprocess.Popen[str]) -> None:
    if owner.poll() is None:
        owner.kill()
    owner.wait()
    if owner.stdout is not None:
        owner.stdout.close()


def _wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_janus_dies_with_a_killed_owner(tmp_path: Path) -> None:
    require_janus()
    owner, janus_pid = _start_owner(tmp_path / "data")
    try:
        assert pid_alive(janus_pid)
        os.kill(owner.pid, signal.SIGKILL)
        _kill(owner)
        assert _wait_gone(janus_pid)
        second, second_pid = _start_owner(tmp_path / "data")
        try:
            assert second_pid != janus_pid
            assert pid_alive(second_pid)
        finally:
            _kill(second)
            assert _wait_gone(second_pid)
    finally:
        _kill(owner)
        if pid_alive(janus_pid):
            os.kill(janus_pid, signal.SIGKILL)
