"""One call's SIP dialog (RFC 3261 §12) as the UAS that answered it, and the header helpers it needs."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field

from app.calls.media import MediaLegLike
from app.sip.message import Request, Response, split_comma_list
from app.sip.sdp import AudioChoice
from app.sip.server_transaction import ServerTransaction
from app.sip.transport import Addr, SipTransport

__all__ = ["Call", "display_name", "header_param", "name_addr_uri"]

_QUOTED_RE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"')


def name_addr_uri(value: str) -> str:
    """The URI of a From/To/Contact value (``"Bob" <sip:b@h>;tag=x`` -> ``sip:b@h``)."""
    start = value.find("<")
    if start >= 0:
        end = value.find(">", start)
        return value[start + 1 : end if end > 0 else None].strip()
    return value.split(";", 1)[0].strip()


def header_param(value: str, name: str) -> str | None:
    """A header parameter after the URI (``tag`` of From/To, ``refresher`` of Session-Expires)."""
    tail = value[value.find(">") + 1 :] if "<" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip()
    return None


def display_name(value: str) -> str:
    """The display name of a From value, else the user part of its URI, else the URI."""
    m = _QUOTED_RE.match(value)
    if m and m.group(1).strip():
        return re.sub(r"\\(.)", r"\1", m.group(1)).strip()
    if "<" in value:
        token = value[: value.find("<")].strip().strip('"').strip()
        if token:
            return token
    uri = name_addr_uri(value)
    user = uri.split(":", 1)[-1].split("@", 1)[0]
    return user or uri


@dataclass(eq=False)
class Call:
    call_id: str
    local_tag: str
    remote_tag: str
    remote_from: str
    """The caller's From header value (our To in requests we send)."""
    local_to: str
    """The INVITE's To value with our tag (our From in requests we send)."""
    remote_target: str
    route_set: list[str]
    transport: SipTransport
    addr: Addr
    participant_id: int
    conference_id: int
    conference_name: str
    display: str
    invite: ServerTransaction
    remote_cseq: int
    leg: MediaLegLike | None = None
    choice: AudioChoice | None = None
    local_cseq: int = field(default_factory=lambda: secrets.randbelow(10000) + 1)
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**31))
    sdp_version: int = 1
    local_sdp: bytes = b""
    confirmed: bool = False
    ended: bool = False
    muted: bool = False
    answer_in_ack: bool = False
    """We offered in the 2xx (delayed offer or a re-INVITE without SDP): the answer comes in the ACK."""
    ack: asyncio.Event = field(default_factory=asyncio.Event)
    ack_done: asyncio.Event = field(default_factory=asyncio.Event)
    """The ACK was handled (the call is confirmed): we may send our own re-INVITE now."""
    ack_cseq: int = 0
    session_expires: int | None = None
    refresher: str | None = None
    refreshed: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    outgoing: bool = False
    """A dial-out: the participant stays (``disconnected``) when the call ends."""
    watched_branch: str | None = None
    """Our INVITE's branch, watched for 2xx retransmissions to ACK again (dial-outs)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.call_id, self.local_tag, self.remote_tag

    @classmethod
    def key_of(cls, request: Request) -> tuple[str, str, str] | None:
        call_id = request.call_id
        to = request.headers.get("To")
        frm = request.headers.get("From")
        if call_id is None or to is None or frm is None:
            return None
        return call_id, header_param(to, "tag") or "", header_param(frm, "tag") or ""

    def dialog_headers(self, method: str, *, cseq: int | None = None) -> list[tuple[str, str]]:
        if cseq is None:
            self.local_cseq += 1
        rows = [("From", self.local_to), ("To", self.remote_from), ("Call-ID", self.call_id)]
        rows.append(("CSeq", f"{self.local_cseq if cseq is None else cseq} {method}"))
        rows.extend(("Route", route) for route in self.route_set)
        return rows


def route_set_of(request: Request) -> list[str]:
    """Record-Route rows of a request, in order (the UAS's route set, RFC 3261 §12.1.1)."""
    out: list[str] = []
    for row in request.headers.get_all("Record-Route"):
        out.extend(split_comma_list(row))
    return out


def copy_record_route(request: Request, response: Response) -> None:
    for row in request.headers.get_all("Record-Route"):
        response.headers.add("Record-Route", row)
