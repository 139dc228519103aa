"""The embedded Janus: what it loads and listens on, rooms, losing it (SIGKILL) and getting it back, stop/start."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

import pytest

from app.media import MediaEngine, MediaError, MediaUnavailable
from tests.support.janus import RawJanus, endpoint_of, listening_tcp, pid_alive, supervisor_of

ROOM = 81001


async def test_only_audiobridge_and_http_on_loopback_with_an_api_secret(
    engine: MediaEngine, raw_janus: RawJanus, tmp_path: Path
) -> None:
    info = await raw_janus.info()
    assert set(info["plugins"]) == {"janus.plugin.audiobridge"}
    assert set(info["transports"]) == {"janus.transport.http"}
    assert info["events"] == {}
    pid = supervisor_of(engine).pid
    assert pid is not None
    # The HTTP API is Janus' only TCP listener (no admin API, no other transport), on 127.0.0.1 only.
    port = int(raw_janus.url.split(":")[2].split("/")[0])
    assert listening_tcp(pid) == {("127.0.0.1", port)}
    # Nobody else on the host drives it without the secret of this run.
    refused = await raw_janus.post("", {"janus": "create"}, secret=False)
    assert refused["janus"] == "error"
    assert refused["error"]["code"] == 403
    config_dir = tmp_path / "data" / "janus"
    for name in ("janus.jcfg", "janus.transport.http.jcfg", "janus.plugin.audiobridge.jcfg"):
        assert stat.S_IMODE((config_dir / name).stat().st_mode) == 0o600
    assert (config_dir / "janus.log").exists()


async def test_rooms_are_created_and_destroyed_idempotently(engine: MediaEngine, raw_janus: RawJanus) -> None:
    await engine.ensure_room(ROOM)
    await engine.ensure_room(ROOM)
    assert ROOM in await raw_janus.rooms()
    room = next(r for r in (await raw_janus.audiobridge({"request": "list"}))["list"] if r["room"] == ROOM)
    assert room["sampling_rate"] == 16000
    leg = await engine.join(ROOM, display="Carol", codec="pcma", remote_ip="127.0.0.1", remote_port=30000)
    assert leg.payload_type == 8
    assert [p["display"] for p in await raw_janus.participants(ROOM)] == ["Carol"]
    await engine.destroy_room(ROOM)
    await engine.destroy_room(ROOM)
    await engine.destroy_room(ROOM + 1)  # never created
    assert ROOM not in await raw_janus.rooms()
    await engine.leave(leg)  # its room is gone: nothing left to do


async def test_join_creates_the_room_and_one_handle_per_leg(engine: MediaEngine, raw_janus: RawJanus) -> None:
    legs = [
        await engine.join(ROOM, display=name, codec="pcmu", remote_ip="127.0.0.1", remote_port=30000 + 2 * index)
        for index, name in enumerate(("Ann", "Ben", "Cid"))
    ]
    opus = await engine.join(ROOM, display="Dee", codec="opus", remote_ip="127.0.0.1", remote_port=30010, opus_pt=111)
    assert opus.payload_type == 111
    assert sorted(p["display"] for p in await raw_janus.participants(ROOM)) == ["Ann", "Ben", "Cid", "Dee"]
    assert len({leg.local_port for leg in [*legs, opus]}) == 4
    await engine.leave(legs[1])
    assert sorted(p["display"] for p in await raw_janus.participants(ROOM)) == ["Ann", "Cid", "Dee"]


async def test_janus_killed_fires_on_lost_then_comes_back_with_the_rooms(engine: MediaEngine) -> None:
    await engine.ensure_room(ROOM)
    old_leg = await engine.join(ROOM, display="Eve", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)
    lost = asyncio.Event()
    calls: list[bool] = []

    async def on_lost() -> None:
        calls.append(engine.available)
        lost.set()

    engine.on_lost(on_lost)
    supervisor = supervisor_of(engine)
    old_pid = supervisor.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    async with asyncio.timeout(30):
        await lost.wait()
    assert calls == [False]  # the callback sees the engine without Janus
    with pytest.raises(MediaUnavailable):
        await engine.join(ROOM, display="Too early", codec="pcmu", remote_ip="127.0.0.1", remote_port=30002)

    assert await engine.wait_available(60)
    assert supervisor.pid not in (None, old_pid)
    assert not pid_alive(old_pid)
    endpoint = endpoint_of(engine)
    raw = RawJanus(endpoint.url, endpoint.api_secret)
    try:
        assert ROOM in await raw.rooms()  # re-created by the engine, before any call joined
        await engine.leave(old_leg)  # a leg from before the loss is gone already
        with pytest.raises(MediaError):
            await engine.set_muted(old_leg, True)
        new_leg = await engine.join(ROOM, display="Fay", codec="pcmu", remote_ip="127.0.0.1", remote_port=30004)
        assert [p["display"] for p in await raw.participants(ROOM)] == ["Fay"]
        await engine.leave(new_leg)
    finally:
        await raw.close()
    assert len(calls) == 1


async def test_start_and_stop_are_idempotent_and_restartable(engine: MediaEngine) -> None:
    supervisor = supervisor_of(engine)
    pid = supervisor.pid
    await engine.start()
    assert supervisor.pid == pid
    await engine.ensure_room(ROOM)

    await engine.stop()
    await engine.stop()
    assert pid is not None
    assert not pid_alive(pid)
    assert not engine.available
    with pytest.raises(MediaUnavailable):
        await engine.join(ROOM, display="Gil", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)

    await engine.start()
    assert engine.available
    assert supervisor.pid not in (None, pid)
    endpoint = endpoint_of(engine)
    raw = RawJanus(endpoint.url, endpoint.api_secret)
    try:
        assert ROOM in await raw.rooms()  # remembered across stop/start
    finally:
        await raw.close()


@pytest.mark.parametrize(("remote_ip", "remote_port"), [("::1", 30000), ("phone.example", 30000), ("127.0.0.1", 0)])
async def test_an_address_janus_cannot_send_to_is_refused(
    engine: MediaEngine, raw_janus: RawJanus, remote_ip: str, remote_port: int
) -> None:
    with pytest.raises(MediaError) as refused:
        await engine.join(ROOM, display="Kim", codec="pcmu", remote_ip=remote_ip, remote_port=remote_port)
    assert not isinstance(refused.value, MediaUnavailable)
    assert ROOM not in await raw_janus.rooms()  # refused before anything was created


async def test_hold_with_no_address_keeps_the_leg(engine: MediaEngine, raw_janus: RawJanus) -> None:
    leg = await engine.join(ROOM, display="Lou", codec="pcmu", remote_ip="127.0.0.1", remote_port=30000)
    assert await engine.update_remote(leg, "0.0.0.0", 30000) == leg  # noqa: S104 - an SDP address, not a bind
    assert [p["display"] for p in await raw_janus.participants(ROOM)] == ["Lou"]


async def test_a_janus_that_ignores_sigterm_is_killed_after_the_bound(
    engine: MediaEngine, caplog: pytest.LogCaptureFixture
) -> None:
    pid = supervisor_of(engine).pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process acts on nothing but SIGKILL
    try:
        await engine.stop()
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not pid_alive(pid)
    assert "did not stop within 5 s of SIGTERM; killing it" in caplog.text
