"""One call's place in a conference mix, as the SIP side needs it for its SDP answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Codec", "MediaLeg"]

Codec = Literal["pcmu", "pcma", "opus"]
"""The codecs AudioBridge speaks with plain-RTP participants (no G.722, no SRTP)."""


@dataclass(frozen=True, slots=True)
class MediaLeg:
    """A call joined to a room: put ``local_ip``/``local_port``/``payload_type`` in the SDP answer.

    ``leg_id`` stays the same for the life of the call, across ``update_remote``; a leg from before a
    Janus loss is dead (``leave`` on it does nothing).
    """

    leg_id: str
    room: int
    local_ip: str
    local_port: int
    payload_type: int
    codec: Codec
