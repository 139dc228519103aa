"""media.janus_url: an existing Janus, started outside the engine, with an API secret."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.media import MediaEngine, build_media_engine
from app.media.engine import MediaEngine as Engine
from app.media.janus_config import EmbeddedJanusConfig, find_janus_folders, write_config
from app.media.janus_external import ExternalJanus
from app.media.janus_process import wait_for_info
from tests.support.bridge import KNOWN_SECRETS, free_port
from tests.support.janus import RawJanus, media_settings, pid_alive, require_janus, rtp_range

API_SECRET = "Janus-Ext-S3cret-5f1a"
KNOWN_SECRETS.add(API_SECRET)
ROOM = 92002


@dataclass
class ExternalProcess:
    config: EmbeddedJanusConfig
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        write_config(self.config)
        log = (self.config.directory / "janus.log").open("ab")
        with log:
            self.process = subprocess.Popen(
                ["janus", "-C", str(self.config.main_file), "-F", str(self.config.directory), "-o"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def external(tmp_path: Path) -> Iterator[ExternalProcess]:
    require_janus()
    binary = shutil.which("janus")
    assert binary is not None
    folders = find_janus_folders(Path(binary))
    assert folders is not None
    low, high = (int(p) for p in rtp_range().split("-"))
    config = EmbeddedJanusConfig(tmp_path / "external", folders, free_port(), API_SECRET, (low, high), "127.0.0.1")
    janus = ExternalProcess(config)
    janus.start()
    yield janus
    janus.kill()


async def _up(janus: ExternalProcess) -> None:
    async with httpx.AsyncClient() as client:
        assert await wait_for_info(client, janus.config.api_url, timeout=20)


@pytest.fixture
async def engine_on_url(external: ExternalProcess, tmp_path: Path) -> AsyncIterator[MediaEngine]:
    await _up(external)
    settings = media_settings(
        tmp_path / "data", janus_url=external.config.api_url + "/", janus_api_secret=API_SECRET, janus_binary="nope"
    )
    engine = build_media_engine(settings)
    yield engine
    await engine.stop()


async def test_uses_the_janus_at_the_url_and_cleans_up_after_itself(
    engine_on_url: MediaEngine, external: ExternalProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await engine_on_url.start()
    assert engine_on_url.available
    assert isinstance(engine_on_url.backend, ExternalJanus)
    leg = await engine_on_url.join(ROOM, display="Ida", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)
    low, high = external.config.rtp_ports
    assert low <= leg.local_port <= high
    raw = RawJanus(external.config.api_url, API_SECRET)
    try:
        assert ROOM in await raw.rooms()
        assert [p["display"] for p in await raw.participants(ROOM)] == ["Ida"]
        await engine_on_url.stop()
        assert ROOM not in await raw.rooms()  # a shared Janus keeps nothing of ours
    finally:
        await raw.close()
    assert external.process is not None
    assert pid_alive(external.process.pid)  # never ours to stop
    assert not (tmp_path / "data" / "janus").exists()
    assert API_SECRET not in caplog.text


async def test_a_restarted_janus_fires_on_lost_and_gets_the_rooms_back(
    engine_on_url: MediaEngine, external: ExternalProcess
) -> None:
    await engine_on_url.start()
    await engine_on_url.ensure_room(ROOM)
    lost = asyncio.Event()

    async def on_lost() -> None:
        lost.set()

    engine_on_url.on_lost(on_lost)
    external.kill()
    async with asyncio.timeout(30):
        await lost.wait()
    assert not engine_on_url.available
    external.start()
    assert await engine_on_url.wait_available(60)
    raw = RawJanus(external.config.api_url, API_SECRET)
    try:
        assert ROOM in await raw.rooms()
    finally:
        await raw.close()
    leg = await engine_on_url.join(ROOM, display="Jo", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)
    await engine_on_url.leave(leg)


async def test_a_wrong_api_secret_leaves_media_unavailable_and_is_not_logged(
    external: ExternalProcess, caplog: pytest.LogCaptureFixture
) -> None:
    await _up(external)
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Janus-Secret-77"
    KNOWN_SECRETS.add(wrong)
    engine = Engine(ExternalJanus(external.config.api_url, wrong), start_timeout=2)
    try:
        await engine.start()
        assert not engine.available
    finally:
        await engine.stop()
    assert "Unauthorized" in caplog.text
    assert wrong not in caplog.text
