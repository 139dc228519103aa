"""Real audio through a real Janus: two plain-RTP phones in one room, each playing its own tone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.media import Codec, MediaEngine, MediaError, MediaLeg
from tests.support.janus import supervisor_of
from tests.support.rtp_audio import FRAME_SECONDS, PT_PCMA, PT_PCMU, RtpPhone, tone_amplitude, tone_frames

ROOM = 4711
AMPLITUDE = 6000
TONE_A = 440.0
TONE_B = 1000.0
SETTLE = 0.5
"""Seconds after a change (start, mute, move) before what is heard counts: Janus buffers a few packets."""
HEARD = 0.3 * AMPLITUDE
"""A tone heard through the mix keeps most of its level (resampled to 16 kHz and back)."""
SILENT = 0.02 * AMPLITUDE


@dataclass
class Party:
    phone: RtpPhone
    leg: MediaLeg
    tone: float
    payload_type: int = PT_PCMU

    @property
    def janus(self) -> tuple[str, int]:
        return (self.leg.local_ip, self.leg.local_port)


async def _party(engine: MediaEngine, display: str, tone: float, codec: Codec = "pcmu") -> Party:
    phone = await RtpPhone.open()
    leg = await engine.join(ROOM, display=display, codec=codec, remote_ip="127.0.0.1", remote_port=phone.port)
    return Party(phone, leg, tone, leg.payload_type)


@pytest.fixture
async def parties(engine: MediaEngine) -> AsyncIterator[tuple[Party, Party]]:
    await engine.ensure_room(ROOM)
    a = await _party(engine, "Alice", TONE_A)
    b = await _party(engine, "Bob", TONE_B)
    yield a, b
    a.phone.close()
    b.phone.close()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _frames(party: Party, seconds: float) -> list[bytes]:
    return tone_frames(party.tone, AMPLITUDE, round(seconds / FRAME_SECONDS), party.payload_type)


async def _play(*senders: tuple[Party, tuple[str, int], float]) -> float:
    """Each party plays its tone to the given address for the given seconds, together; returns the start time."""
    start = _loop_time()
    sending = [party.phone.send(to, _frames(party, seconds), party.payload_type) for party, to, seconds in senders]
    await asyncio.gather(*sending)
    return start


def _levels(phone: RtpPhone, since: float, until: float) -> dict[float, float]:
    frames = phone.heard(since, until)
    assert len(frames) > 10, f"only {len(frames)} packets received between {since:.2f} and {until:.2f}"
    return {tone: tone_amplitude(frames, tone) for tone in (TONE_A, TONE_B)}


async def test_each_party_hears_the_other_and_not_itself(engine: MediaEngine, parties: tuple[Party, Party]) -> None:
    a, b = parties
    low, high = supervisor_of(engine).rtp_ports
    for party in (a, b):
        assert party.leg.local_ip == "127.0.0.1"
        assert low <= party.leg.local_port <= high
        assert party.leg.payload_type == 0
        assert party.leg.codec == "pcmu"
    assert a.leg.leg_id != b.leg.leg_id
    assert a.leg.local_port != b.leg.local_port

    start = await _play((a, a.janus, 2.0), (b, b.janus, 2.0))
    end = _loop_time()
    heard_by_a = _levels(a.phone, start + SETTLE, end)
    heard_by_b = _levels(b.phone, start + SETTLE, end)
    assert heard_by_a[TONE_B] > HEARD, heard_by_a
    assert heard_by_a[TONE_A] < SILENT, heard_by_a
    assert heard_by_b[TONE_A] > HEARD, heard_by_b
    assert heard_by_b[TONE_B] < SILENT, heard_by_b


async def test_a_muted_party_is_not_heard_but_still_hears(engine: MediaEngine, parties: tuple[Party, Party]) -> None:
    a, b = parties
    play = asyncio.ensure_future(_play((a, a.janus, 3.2), (b, b.janus, 3.2)))
    start = _loop_time()
    await asyncio.sleep(1.2)
    await engine.set_muted(a.leg, True)
    muted_at = _loop_time()
    await play
    end = _loop_time()
    assert _levels(b.phone, start + SETTLE, muted_at)[TONE_A] > HEARD
    after = _levels(b.phone, muted_at + SETTLE, end)
    assert after[TONE_A] < SILENT, after
    assert _levels(a.phone, muted_at + SETTLE, end)[TONE_B] > HEARD

    await engine.set_muted(a.leg, False)
    start = await _play((a, a.janus, 1.5), (b, b.janus, 1.5))
    assert _levels(b.phone, start + SETTLE, _loop_time())[TONE_A] > HEARD


async def test_a_party_that_left_is_not_heard(engine: MediaEngine, parties: tuple[Party, Party]) -> None:
    a, b = parties
    await engine.leave(a.leg)
    await engine.leave(a.leg)  # idempotent
    start = await _play((a, a.janus, 1.5), (b, b.janus, 1.5))
    assert _levels(b.phone, start + SETTLE, _loop_time())[TONE_A] < SILENT
    assert not [r for r in a.phone.received if r.at > start + SETTLE]
    with pytest.raises(MediaError):
        await engine.set_muted(a.leg, True)


async def test_update_remote_sends_the_mix_to_the_new_address(
    engine: MediaEngine, parties: tuple[Party, Party]
) -> None:
    a, b = parties
    assert await engine.update_remote(a.leg, "127.0.0.1", a.phone.port) == a.leg  # unchanged address: same leg
    moved_phone = await RtpPhone.open()
    try:
        moved = await engine.update_remote(a.leg, "127.0.0.1", moved_phone.port)
        assert moved.leg_id == a.leg.leg_id
        assert moved.room == ROOM
        moved_party = Party(moved_phone, moved, TONE_A)
        start = await _play((moved_party, moved_party.janus, 2.0), (b, b.janus, 2.0))
        end = _loop_time()
        assert _levels(moved_phone, start + SETTLE, end)[TONE_B] > HEARD
        assert _levels(b.phone, start + SETTLE, end)[TONE_A] > HEARD
        assert not [r for r in a.phone.received if r.at > start + SETTLE]
        await engine.leave(moved)
    finally:
        moved_phone.close()


async def test_a_pcma_party_and_a_pcmu_party_hear_each_other(engine: MediaEngine) -> None:
    a = await _party(engine, "Alaw", TONE_A, "pcma")
    b = await _party(engine, "Ulaw", TONE_B, "pcmu")
    try:
        assert a.payload_type == PT_PCMA
        start = await _play((a, a.janus, 2.0), (b, b.janus, 2.0))
        end = _loop_time()
        assert {r.payload_type for r in a.phone.received} == {PT_PCMA}
        heard_by_a = _levels(a.phone, start + SETTLE, end)
        heard_by_b = _levels(b.phone, start + SETTLE, end)
        assert heard_by_a[TONE_B] > HEARD, heard_by_a
        assert heard_by_a[TONE_A] < SILENT, heard_by_a
        assert heard_by_b[TONE_A] > HEARD, heard_by_b
        assert heard_by_b[TONE_B] < SILENT, heard_by_b
    finally:
        a.phone.close()
        b.phone.close()
