"""Minimal SIP URI parsing (RFC 3261 §19.1) for the URIs our UAC targets."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

__all__ = ["SipUri", "SipUriError", "parse_uri"]


class SipUriError(ValueError):
    pass


_HOST_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?)$")
_USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")


@dataclass(frozen=True)
class SipUri:
    scheme: str  # "sip" or "sips"
    host: str  # IPv6 without brackets
    port: int | None = None
    user: str | None = None
    params: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)

    @property
    def transport(self) -> str | None:
        t = self.params.get("transport")
        return t.lower() if t else None

    @property
    def host_for_uri(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def default_port(self) -> int:
        return 5061 if self.scheme == "sips" or self.transport == "tls" else 5060

    def __str__(self) -> str:
        s = f"{self.scheme}:"
        if self.user is not None:
            s += f"{self.user}@"
        s += self.host_for_uri
        if self.port is not None:
            s += f":{self.port}"
        for k, v in self.params.items():
            s += f";{k}" if v is None else f";{k}={v}"
        return s


def parse_uri(text: str) -> SipUri:
    """Parse ``sip:[user@]host[:port][;params]`` (headers part ``?...`` is rejected)."""
    s = text.strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1]
    scheme, sep, rest = s.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips"):
        raise SipUriError(f"not a SIP URI (expected sip: or sips:): {text!r}")
    if "?" in rest:
        raise SipUriError(f"SIP URI headers are not supported: {text!r}")
    user: str | None = None
    if "@" in rest:
        user, _, rest = rest.rpartition("@")
        if not user or not _USER_RE.match(user):
            raise SipUriError(f"invalid user part in SIP URI: {text!r}")
    hostport, *param_parts = rest.split(";")
    params: dict[str, str | None] = {}
    for p in param_parts:
        if not p:
            raise SipUriError(f"empty parameter in SIP URI: {text!r}")
        k, eq, v = p.partition("=")
        params[k.lower()] = v if eq else None
    port: int | None = None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipUriError(f"unterminated IPv6 reference in SIP URI: {text!r}")
        host = hostport[1:end]
        tail = hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SipUriError(f"invalid IPv6 address in SIP URI: {text!r}") from None
        if tail:
            if not tail.startswith(":"):
                raise SipUriError(f"invalid host/port in SIP URI: {text!r}")
            port_text = tail[1:]
        else:
            port_text = ""
    else:
        host, _, port_text = hostport.partition(":")
        if not host or not _HOST_RE.match(host):
            raise SipUriError(f"invalid host in SIP URI: {text!r}")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipUriError(f"invalid port in SIP URI: {text!r}")
        port = int(port_text)
    elif hostport.endswith(":"):
        raise SipUriError(f"invalid port in SIP URI: {text!r}")
    if "transport" in params and (params["transport"] or "").lower() not in ("udp", "tcp", "tls"):
        raise SipUriError(f"unsupported transport in SIP URI: {text!r}")
    return SipUri(scheme=scheme.lower(), host=host, port=port, user=user, params=params)
