"""SDP offer/answer (RFC 4566, RFC 3264) for one audio stream in PCMU, PCMA or opus.

:func:`parse_sdp` raises :class:`SdpError` with status 400 on malformed input; :func:`negotiate` raises it
with 488 when the offer has no plain-RTP audio stream with a codec we mix. Nothing else is raised.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AudioChoice",
    "Codec",
    "Direction",
    "MediaDescription",
    "SdpError",
    "SessionDescription",
    "build_answer",
    "build_offer",
    "negotiate",
    "parse_sdp",
]

MAX_SDP_SIZE = 16384
Codec = Literal["pcmu", "pcma", "opus"]
Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
_DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE: dict[Direction, Direction] = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
_STATIC: dict[int, tuple[str, int]] = {0: ("pcmu", 8000), 8: ("pcma", 8000), 9: ("g722", 8000)}
_LINE_RE = re.compile(r"^([a-z])=(.*)$")
_MEDIA_RE = re.compile(r"^(\S+) ([0-9]{1,5})(?:/[0-9]+)? (\S+)((?: \S+)*)$")
_RTPMAP_RE = re.compile(r"^([0-9]{1,3}) ([A-Za-z0-9_.\-]+)/([0-9]+)(?:/([0-9]+))?$")
_HOLD_ADDRESSES = frozenset({"0.0.0.0", "::"})  # noqa: S104  # RFC 2543 hold, not a bind
OPUS_DEFAULT_PT = 111
TELEPHONE_EVENT_DEFAULT_PT = 101


class SdpError(ValueError):
    """Unusable SDP: ``status`` is the SIP status to answer (400 malformed, 488 not acceptable)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class MediaDescription:
    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: str | None
    attributes: tuple[tuple[str, str | None], ...] = ()

    def attribute(self, name: str) -> list[str | None]:
        return [v for k, v in self.attributes if k == name]

    @property
    def direction(self) -> Direction | None:
        for key, _ in self.attributes:
            if key in _DIRECTIONS:
                return key
        return None

    def rtpmap(self) -> dict[int, tuple[str, int, int]]:
        """payload type -> (lower-case encoding name, clock rate, channels), static types included."""
        out: dict[int, tuple[str, int, int]] = {}
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) in _STATIC:
                name, rate = _STATIC[int(fmt)]
                out[int(fmt)] = (name, rate, 1)
        for value in self.attribute("rtpmap"):
            m = _RTPMAP_RE.match(value or "")
            if m is None:
                continue
            out[int(m.group(1))] = (m.group(2).lower(), int(m.group(3)), int(m.group(4) or 1))
        return out


@dataclass(frozen=True)
class SessionDescription:
    origin: str
    connection: str | None
    direction: Direction | None
    media: tuple[MediaDescription, ...] = field(default=())


@dataclass(frozen=True)
class AudioChoice:
    """What we agreed for the one audio stream."""

    codec: Codec
    payload_type: int
    remote_ip: str
    remote_port: int
    direction: Direction
    """The remote side's direction (``sendonly`` = it puts us on hold)."""
    telephone_event: int | None
    mline: int
    """Index of the audio m-line in the offer."""
    on_hold: bool = False

    @property
    def answer_direction(self) -> Direction:
        return _REVERSE[self.direction]


def _host(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(400, "malformed c= line")
    addr = parts[2].split("/")[0]
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        if not re.match(r"^[A-Za-z0-9.\-]+$", addr):
            raise SdpError(400, "malformed c= address") from None
    return addr


def parse_sdp(body: bytes) -> SessionDescription:
    if len(body) > MAX_SDP_SIZE:
        raise SdpError(400, "SDP too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError(400, "SDP is not UTF-8") from None
    lines = [line for line in re.split(r"\r?\n", text) if line.strip()]
    if not lines or lines[0].strip() != "v=0":
        raise SdpError(400, "SDP must start with v=0")
    origin: str | None = None
    session_conn: str | None = None
    session_dir: Direction | None = None
    media: list[MediaDescription] = []
    cur: dict[str, object] | None = None
    cur_attrs: list[tuple[str, str | None]] = []

    def close() -> None:
        if cur is not None:
            media.append(
                MediaDescription(
                    media=str(cur["media"]),
                    port=int(str(cur["port"])),
                    proto=str(cur["proto"]),
                    formats=tuple(str(cur["formats"]).split()),
                    connection=cur["conn"] if isinstance(cur["conn"], str) else None,
                    attributes=tuple(cur_attrs),
                )
            )

    for line in lines[1:]:
        m = _LINE_RE.match(line.rstrip())
        if m is None:
            raise SdpError(400, "malformed SDP line")
        kind, value = m.group(1), m.group(2)
        if kind == "o":
            if len(value.split()) != 6:
                raise SdpError(400, "malformed o= line")
            origin = value
        elif kind == "c":
            host = _host(value)
            if cur is None:
                session_conn = host
            else:
                cur["conn"] = host
        elif kind == "m":
            close()
            mm = _MEDIA_RE.match(value)
            if mm is None or int(mm.group(2)) > 65535:
                raise SdpError(400, "malformed m= line")
            cur = {
                "media": mm.group(1),
                "port": mm.group(2),
                "proto": mm.group(3),
                "formats": mm.group(4),
                "conn": None,
            }
            cur_attrs = []
        elif kind == "a":
            name, colon, val = value.partition(":")
            attr = (name.strip().lower(), val.strip() if colon else None)
            if cur is None:
                if attr[0] in _DIRECTIONS:
                    session_dir = attr[0]
            else:
                cur_attrs.append(attr)
    close()
    if origin is None:
        raise SdpError(400, "SDP has no o= line")
    for md in media:
        if md.port != 0 and md.connection is None and session_conn is None:
            raise SdpError(400, "SDP media without a connection address")
    return SessionDescription(origin=origin, connection=session_conn, direction=session_dir, media=tuple(media))


def _codec_of(entry: tuple[str, int, int] | None) -> Codec | None:
    if entry is None:
        return None
    name, rate, channels = entry
    if name == "pcmu" and rate == 8000:
        return "pcmu"
    if name == "pcma" and rate == 8000:
        return "pcma"
    if name == "opus" and rate == 48000 and channels == 2:
        return "opus"
    return None


def negotiate(offer: SessionDescription, *, prefer: str | None = None) -> AudioChoice:
    """Pick the first audio m-line on RTP/AVP and the offer's most preferred of PCMU, PCMA, opus.

    ``prefer`` (the codec of a running call) wins when the offer still has it, so a re-INVITE keeps the leg.
    """
    audio = [(i, md) for i, md in enumerate(offer.media) if md.media == "audio" and md.port != 0]
    if not audio:
        raise SdpError(488, "no audio stream offered")
    plain = [(i, md) for i, md in audio if md.proto.upper() in ("RTP/AVP", "RTP/AVPF")]
    if not plain:
        raise SdpError(488, "only SRTP (RTP/SAVP) offered; SRTP is not supported")
    for index, md in plain:
        rtpmap = md.rtpmap()
        telephone_event: int | None = None
        for pt, (name, rate, _ch) in rtpmap.items():
            if name == "telephone-event" and rate == 8000 and str(pt) in md.formats:
                telephone_event = pt
        formats = sorted(md.formats, key=lambda f: 0 if f.isdigit() and _codec_of(rtpmap.get(int(f))) == prefer else 1)
        for fmt in formats:
            if not fmt.isdigit() or int(fmt) not in rtpmap:
                continue
            pt = int(fmt)
            codec = _codec_of(rtpmap[pt])
            if codec is None:
                continue
            conn = md.connection or offer.connection or ""
            direction = md.direction or offer.direction or "sendrecv"
            hold = direction in ("sendonly", "inactive") or conn in _HOLD_ADDRESSES
            return AudioChoice(
                codec=codec,
                payload_type=pt,
                remote_ip=conn,
                remote_port=md.port,
                direction=direction,
                telephone_event=telephone_event,
                mline=index,
                on_hold=hold,
            )
    raise SdpError(488, "no common audio codec (PCMU, PCMA or opus)")


def _ip_kind(ip: str) -> str:
    return "IP6" if ":" in ip else "IP4"


def _codec_lines(codec: Codec, pt: int) -> list[str]:
    if codec == "pcmu":
        return [f"a=rtpmap:{pt} PCMU/8000"]
    if codec == "pcma":
        return [f"a=rtpmap:{pt} PCMA/8000"]
    return [f"a=rtpmap:{pt} opus/48000/2", f"a=fmtp:{pt} useinbandfec=1"]


def _session_head(local_ip: str, session_id: int, version: int) -> list[str]:
    kind = _ip_kind(local_ip)
    return [
        "v=0",
        f"o=adhoc-bridge {session_id} {version} IN {kind} {local_ip}",
        "s=adhoc-bridge",
        f"c=IN {kind} {local_ip}",
        "t=0 0",
    ]


def build_answer(
    offer: SessionDescription,
    choice: AudioChoice,
    *,
    local_ip: str,
    local_port: int,
    session_id: int,
    version: int,
    payload_type: int | None = None,
) -> bytes:
    """Answer every offered m-line in order: the chosen audio one with our address, the others with port 0."""
    lines = _session_head(local_ip, session_id, version)
    for index, md in enumerate(offer.media):
        if index != choice.mline:
            lines.append(f"m={md.media} 0 {md.proto} {' '.join(md.formats) or '0'}")
            continue
        pt = payload_type if payload_type is not None else choice.payload_type
        formats = [str(pt)]
        if choice.telephone_event is not None:
            formats.append(str(choice.telephone_event))
        lines.append(f"m=audio {local_port} RTP/AVP {' '.join(formats)}")
        lines.extend(_codec_lines(choice.codec, pt))
        if choice.telephone_event is not None:
            lines.append(f"a=rtpmap:{choice.telephone_event} telephone-event/8000")
            lines.append(f"a=fmtp:{choice.telephone_event} 0-15")
        lines.append("a=ptime:20")
        lines.append(f"a={choice.answer_direction}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def build_offer(
    *,
    local_ip: str,
    local_port: int,
    session_id: int,
    version: int,
    codecs: tuple[Codec, ...] = ("pcmu", "pcma"),
    direction: Direction = "sendrecv",
) -> bytes:
    """Our offer (delayed-offer INVITEs, dial-out): one audio m-line with ``codecs`` plus telephone-event."""
    pts = {"pcmu": 0, "pcma": 8, "opus": OPUS_DEFAULT_PT}
    lines = _session_head(local_ip, session_id, version)
    formats = [str(pts[c]) for c in codecs] + [str(TELEPHONE_EVENT_DEFAULT_PT)]
    lines.append(f"m=audio {local_port} RTP/AVP {' '.join(formats)}")
    for c in codecs:
        lines.extend(_codec_lines(c, pts[c]))
    lines.append(f"a=rtpmap:{TELEPHONE_EVENT_DEFAULT_PT} telephone-event/8000")
    lines.append(f"a=fmtp:{TELEPHONE_EVENT_DEFAULT_PT} 0-15")
    lines.append("a=ptime:20")
    lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
