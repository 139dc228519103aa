"""Media fixtures: the engine with its own (embedded) real Janus in a throw-away data_dir, and a raw Janus API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.media import MediaEngine, build_media_engine
from tests.support.janus import RawJanus, endpoint_of, media_settings, pid_alive, require_janus, supervisor_of


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[MediaEngine]:
    """An engine running its own Janus; stopped after the test, and that Janus must be gone by then."""
    require_janus()
    instance = build_media_engine(media_settings(tmp_path / "data"))
    await instance.start()
    assert instance.available, (tmp_path / "data/janus/janus.log").read_text(errors="replace")[-2000:]
    pids = {supervisor_of(instance).pid}
    try:
        yield instance
    finally:
        pids.add(supervisor_of(instance).pid)
        await instance.stop()
    assert not [pid for pid in pids if pid is not None and pid_alive(pid)]


@pytest.fixture
async def raw_janus(engine: MediaEngine) -> AsyncIterator[RawJanus]:
    endpoint = endpoint_of(engine)
    raw = RawJanus(endpoint.url, endpoint.api_secret)
    yield raw
    await raw.client.aclose()
