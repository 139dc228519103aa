"""AudioBridge requests: rooms (16 kHz, plain-RTP participants allowed) and plain-RTP participants.

A handle joins one room once, so every participant gets its own handle; detaching it removes the participant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.media.errors import MediaError
from app.media.janus_api import JanusSession
from app.media.leg import Codec

__all__ = [
    "ERR_NO_SUCH_ROOM",
    "ERR_ROOM_EXISTS",
    "PLUGIN",
    "SAMPLING_RATE",
    "JoinedParticipant",
    "configure_muted",
    "create_room",
    "destroy_room",
    "join_rtp",
]

PLUGIN = "janus.plugin.audiobridge"
SAMPLING_RATE = 16000
ERR_NO_SUCH_ROOM = 485
ERR_ROOM_EXISTS = 486


@dataclass(frozen=True, slots=True)
class JoinedParticipant:
    """Where Janus listens for this participant's RTP (what goes in the SDP answer)."""

    participant_id: int
    ip: str
    port: int
    payload_type: int


async def create_room(session: JanusSession, handle: int, room: int) -> bool:
    """Create ``room``; False when it already existed (which is fine)."""
    body = {
        "request": "create",
        "room": room,
        "description": f"conference {room}",
        "sampling_rate": SAMPLING_RATE,
        "allow_rtp_participants": True,
        "permanent": False,
    }
    try:
        await session.message(handle, body)
    except MediaError as exc:
        if exc.code == ERR_ROOM_EXISTS:
            return False
        raise
    return True


async def destroy_room(session: JanusSession, handle: int, room: int) -> bool:
    """Destroy ``room``; False when there was no such room."""
    try:
        await session.message(handle, {"request": "destroy", "room": room, "permanent": False})
    except MediaError as exc:
        if exc.code == ERR_NO_SUCH_ROOM:
            return False
        raise
    return True


async def join_rtp(
    session: JanusSession,
    handle: int,
    *,
    room: int,
    display: str,
    codec: Codec,
    remote_ip: str,
    remote_port: int,
    payload_type: int | None = None,
    muted: bool = False,
) -> JoinedParticipant:
    """Join ``room`` as a plain-RTP participant that Janus sends to at ``remote_ip:remote_port``."""
    rtp: dict[str, Any] = {"ip": remote_ip, "port": remote_port}
    if payload_type is not None:
        rtp["payload_type"] = payload_type
    body = {"request": "join", "room": room, "display": display, "codec": codec, "muted": muted, "rtp": rtp}
    data = await session.message(handle, body)
    if data.get("audiobridge") != "joined" or not isinstance(data.get("rtp"), dict):
        raise MediaError("janus join: the answer carries no RTP address")
    answer = data["rtp"]
    try:
        return JoinedParticipant(
            participant_id=int(data.get("id", 0)),
            ip=str(answer["ip"]),
            port=int(answer["port"]),
            payload_type=int(answer.get("payload_type", payload_type if payload_type is not None else 0)),
        )
    except (KeyError, TypeError, ValueError):
        raise MediaError("janus join: the answer's RTP address is malformed") from None


async def configure_muted(session: JanusSession, handle: int, muted: bool) -> None:
    """Mute or unmute the participant of ``handle`` in the mix (the others stop or start hearing it)."""
    await session.message(handle, {"request": "configure", "muted": muted})
