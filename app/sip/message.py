"""SIP message parsing and serialisation (RFC 3261 §7, §20).

:func:`parse_message` raises only :class:`SipParseError`; callers log and drop malformed input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "MAX_MESSAGE_SIZE",
    "Headers",
    "Request",
    "Response",
    "SipParseError",
    "StreamFramer",
    "canonical_name",
    "parse_message",
    "split_comma_list",
]

MAX_MESSAGE_SIZE = 65535
MAX_HEADER_ROWS = 256

_COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
    "n": "Identity-Info",
}
_SPECIAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rseq": "RSeq",
    "rack": "RAck",
}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS_RE = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9]) ?(.*)$")
_REQUEST_RE = re.compile(r"^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0$")


class SipParseError(ValueError):
    """Malformed SIP message."""


_CANONICAL: dict[str, str] = {}
MAX_CANONICAL_NAMES = 1024


def canonical_name(name: str) -> str:
    """Full, conventionally capitalised header name; compact forms expanded (remembered: names repeat)."""
    known = _CANONICAL.get(name)
    if known is not None:
        return known
    low = name.lower()
    if low in _COMPACT:
        canonical = _COMPACT[low]
    elif low in _SPECIAL:
        canonical = _SPECIAL[low]
    else:
        canonical = "-".join(part[:1].upper() + part[1:] for part in low.split("-"))
    if len(_CANONICAL) >= MAX_CANONICAL_NAMES:  # names from the network: keep the table bounded
        _CANONICAL.clear()
    _CANONICAL[name] = canonical
    return canonical


@dataclass
class Headers:
    """Ordered header rows; names compared case-insensitively (compact forms expanded)."""

    rows: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, name: str, default: str | None = None) -> str | None:
        cn = canonical_name(name)
        for n, v in self.rows:
            if n == cn:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        cn = canonical_name(name)
        return [v for n, v in self.rows if n == cn]

    def add(self, name: str, value: str) -> None:
        self.rows.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        cn = canonical_name(name)
        self.rows = [(n, v) for n, v in self.rows if n != cn]

    def copy(self) -> Headers:
        return Headers(list(self.rows))


def split_comma_list(value: str) -> list[str]:
    """Split a comma-separated header value, honouring quoted strings and <...> brackets."""
    if "," not in value:  # the usual single value: nothing to honour
        single = value.strip()
        return [single] if single else []
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    angle = False
    i = 0
    while i < len(value):
        c = value[i]
        if quoted:
            cur.append(c)
            if c == "\\" and i + 1 < len(value):
                cur.append(value[i + 1])
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
            cur.append(c)
        elif c == "<":
            angle = True
            cur.append(c)
        elif c == ">":
            angle = False
            cur.append(c)
        elif c == "," and not angle:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return [p for p in out if p]


@dataclass
class _Message:
    headers: Headers
    body: bytes

    def _serialize(self, start_line: str) -> bytes:
        lines = [start_line]
        for n, v in self.headers.rows:
            if n == "Content-Length":
                continue
            lines.append(f"{n}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    @property
    def call_id(self) -> str | None:
        return self.headers.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str] | None:
        v = self.headers.get("CSeq")
        if v is None:
            return None
        parts = v.split()
        if len(parts) != 2 or not parts[0].isdigit():
            return None
        return int(parts[0]), parts[1].upper()

    @property
    def top_via(self) -> str | None:
        v = self.headers.get("Via")
        if v is None:
            return None
        vias = split_comma_list(v)
        return vias[0] if vias else None

    @property
    def top_via_branch(self) -> str | None:
        via = self.top_via
        if via is None:
            return None
        for param in via.split(";")[1:]:
            k, _, val = param.partition("=")
            if k.strip().lower() == "branch":
                return val.strip()
        return None


@dataclass
class Request(_Message):
    method: str = "OPTIONS"
    uri: str = ""

    def to_bytes(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} SIP/2.0")


@dataclass
class Response(_Message):
    status: int = 0
    reason: str = ""

    def to_bytes(self) -> bytes:
        return self._serialize(f"SIP/2.0 {self.status} {self.reason}")

    @property
    def status_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    idx = data.find(b"\r\n\r\n")
    idx_lf = data.find(b"\n\n")
    if idx < 0 and idx_lf < 0:
        raise SipParseError("no end of headers")
    if idx >= 0 and (idx_lf < 0 or idx <= idx_lf):
        return data[:idx], data[idx + 4 :]
    return data[:idx_lf], data[idx_lf + 2 :]


def parse_message(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one complete SIP message (a datagram, or one framed stream message).

    On datagrams a missing Content-Length means "rest of the datagram"; with ``stream`` it is required.
    Raises only :class:`SipParseError`.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError("message too large")
    data = data.lstrip(b"\r\n")  # keep-alive CRLFs before a message (RFC 5626 / RFC 3261 §7.5)
    if not data:
        raise SipParseError("empty message")
    head, rest = _split_head(data)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("header section is not UTF-8") from None
    if "\x00" in text:
        raise SipParseError("NUL in header section")
    lines = re.split(r"\r?\n", text)
    start = lines[0].strip()
    # unfold continuation lines
    raw_rows: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not raw_rows:
                raise SipParseError("continuation line before any header")
            raw_rows[-1] += " " + line.strip()
        elif line:
            raw_rows.append(line)
    if len(raw_rows) > MAX_HEADER_ROWS:
        raise SipParseError("too many header rows")
    headers = Headers()
    for row in raw_rows:
        name, colon, value = row.partition(":")
        name = name.strip()
        if not colon or not _TOKEN_RE.match(name):
            raise SipParseError(f"bad header row {row[:40]!r}")
        headers.add(name, value.strip())
    cl_values = headers.get_all("Content-Length")
    if cl_values:
        if len(set(cl_values)) != 1 or not cl_values[0].isdigit():
            raise SipParseError("bad Content-Length")
        length = int(cl_values[0])
        if length > len(rest):
            raise SipParseError("body shorter than Content-Length")
        body = rest[:length]
    elif stream:
        raise SipParseError("Content-Length required on stream transports")
    else:
        body = rest
    m = _STATUS_RE.match(start)
    if m:
        return Response(headers=headers, body=body, status=int(m.group(1)), reason=m.group(2).strip())
    m = _REQUEST_RE.match(start)
    if m:
        return Request(headers=headers, body=body, method=m.group(1).upper(), uri=m.group(2))
    raise SipParseError(f"bad start line {start[:60]!r}")


class StreamFramer:
    """Splits a TCP byte stream into SIP messages using Content-Length (RFC 3261 §18.3)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> Iterable[bytes]:
        """Complete message byte strings; raises SipParseError when the stream is unrecoverable."""
        self._buf += data
        out: list[bytes] = []
        while True:
            self._buf = self._buf.lstrip(b"\r\n")
            if not self._buf:
                break
            idx = self._buf.find(b"\r\n\r\n")
            if idx < 0:
                if len(self._buf) > MAX_MESSAGE_SIZE:
                    raise SipParseError("header section too large")
                break
            head = self._buf[:idx]
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*$", head)
            if m is None:
                raise SipParseError("Content-Length required on stream transports")
            length = int(m.group(1))
            total = idx + 4 + length
            if total > MAX_MESSAGE_SIZE:
                raise SipParseError("message too large")
            if len(self._buf) < total:
                break
            out.append(self._buf[:total])
            self._buf = self._buf[total:]
        return out
