"""The headline: three real baresip phones call one conference mixed by the real Janus; each hears the others.

Each phone plays its own tone (``ausine``) and records what it hears (``sndfile``); the Goertzel power at
each tone's frequency in each recording shows the other phones' tones and not the phone's own.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.calls.conftest import CallingBridge
from tests.sip.conftest import HOST, free_port
from tests.sip_registration.conftest import rpc, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("janus") is None or shutil.which("baresip") is None,
    reason="needs janus and baresip-core (apt-get install janus baresip-core)",
)

TONES = (440, 1000, 1600)
TALK_SECONDS = 6


def phone_config(home: Path, index: int, tone: int, *, auto_answer: bool = False) -> int:
    sip_port = free_port()
    rtp = 41000 + 100 * index
    home.mkdir(parents=True)
    (home / "config").write_text(
        f"""poll_method epoll
sip_listen {HOST}:{sip_port}
net_interface {HOST}
audio_player aubridge,sink{index}
audio_source ausine,{tone}
audio_alert aubridge,sink{index}
ausrc_srate 48000
ausrc_channels 2
rtp_ports {rtp}-{rtp + 99}
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module aubridge.so
module sndfile.so
module account.so
module menu.so
snd_path {home}
"""
    )
    answer = ";answermode=auto" if auto_answer else ""
    (home / "accounts").write_text(f"<sip:phone{index}@{HOST}>;regint=0;audio_codecs=PCMU{answer}\n")
    return sip_port


def samples(path: Path) -> tuple[list[float], int]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
        channels = w.getnchannels()
    values = struct.unpack(f"<{len(frames) // 2}h", frames)[::channels]
    return [v / 32768 for v in values], rate


def power(samples: list[float], freq: float, rate: int = 8000) -> float:
    """Goertzel power of ``freq`` over the samples (normalised by length)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2


def _callers(bridge: Any, conference: str) -> list[dict[str, Any]]:
    found = rpc(bridge, "participant.enumerate").get("participants", [])
    return [p for p in found if p["conferenceName"] == conference]


def test_three_phones_hear_each_other_and_not_themselves(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    rpc(b, "conference.create", conferenceName="phones", numericId="7901")
    procs: list[subprocess.Popen[bytes]] = []
    homes = [tmp_path / f"phone{i}" for i in range(len(TONES))]
    try:
        for index, (home, tone) in enumerate(zip(homes, TONES, strict=True)):
            phone_config(home, index, tone)
            out = (home / "stdout.txt").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        "baresip",
                        "-f",
                        str(home),
                        "-e",
                        f"/dial sip:7901@{HOST}:{calling.sip_port}",
                        "-t",
                        str(TALK_SECONDS),
                    ],  # fmt: skip
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=home,
                )
            )
            out.close()

        def all_connected() -> list[dict[str, Any]] | None:
            callers = _callers(b, "phones")
            states = [c["currentState"]["callState"] for c in callers]
            return callers if states == ["connected"] * len(TONES) else None

        callers = wait_until("three phones connected", all_connected, timeout=TALK_SECONDS)
        assert {c["participantType"] for c in callers} == {"ad_hoc"}
        assert {c["currentState"]["callDirection"] for c in callers} == {"incoming"}
        assert sorted(c["currentState"]["address"].split("@")[0] for c in callers) == [
            f"sip:phone{i}" for i in range(len(TONES))
        ]
        for proc in procs:
            proc.wait(timeout=TALK_SECONDS + 10)
        wait_until("phones gone after hanging up", lambda: not _callers(b, "phones"), timeout=10)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rpc(b, "conference.destroy", conferenceName="phones")

    for home, own in zip(homes, TONES, strict=True):
        recordings = sorted(home.glob("dump-*-dec.wav"))
        assert recordings, f"{home.name} recorded nothing: {(home / 'stdout.txt').read_text()[-2000:]}"
        recorded, rate = samples(recordings[0])
        heard = recorded[rate:]  # skip the first second (joins, jitter buffer)
        assert len(heard) > rate * 2, f"{home.name}: only {len(heard)} samples"
        assert_hears(home, heard, rate, own, [t for t in TONES if t != own])


def assert_hears(home: Path, heard: list[float], rate: int, own: int, others: list[int]) -> None:
    levels = {tone: power(heard, tone, rate) for tone in [own, *others]}
    floor = power(heard, 2300, rate)  # a frequency nobody plays
    for tone in others:
        assert levels[tone] > 100 * floor, (home.name, levels, floor)
    assert levels[own] * 20 < min(levels[t] for t in others), (home.name, levels)
