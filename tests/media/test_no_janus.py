"""No janus program and no media.janus_url: the engine starts unavailable with one warning; calls get 503."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.media import MediaUnavailable, build_media_engine
from tests.support.janus import media_settings


async def test_no_binary_means_unavailable_and_one_install_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build_media_engine(media_settings(tmp_path / "data", janus_binary=str(tmp_path / "no" / "janus")))
    caplog.set_level(logging.DEBUG, logger="app.media")
    await engine.start()
    await engine.start()
    assert not engine.configured
    assert not engine.available
    assert not await engine.wait_available(0.1)
    warnings = [r for r in caplog.records if r.name.startswith("app.media") and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "apt-get install janus" in warnings[0].getMessage()
    with pytest.raises(MediaUnavailable):
        await engine.ensure_room(1)
    with pytest.raises(MediaUnavailable):
        await engine.join(1, display="Hal", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)
    await engine.destroy_room(1)  # nothing to destroy: no error
    await engine.stop()
    await engine.stop()
    assert not (tmp_path / "data" / "janus").exists()
