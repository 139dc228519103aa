"""SIP settings, mounted by the main settings object as ``sip`` (env ``ADHOC_SIP__REGISTRAR`` etc.)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.sip.uri import SipUri, SipUriError, parse_uri

__all__ = ["SipSettings"]


class SipSettings(BaseModel):
    """SIP user agent settings.

    ``local_host`` is the address we bind to *and* advertise in Via/Contact. The default ``127.0.0.1``
    keeps a fresh install from listening on public interfaces; in production set it to the address the
    registrar can reach (e.g. the host's LAN address). ``local_port=0`` picks a free port (tests).
    """

    model_config = ConfigDict(extra="forbid")

    registrar: str | None = None
    """SIP URI of the registrar, e.g. ``sip:registrar.example.com:5060;transport=udp``; None = no registration."""
    domain: str | None = None
    """Domain of the registered aliases ``sip:<numericId>@<domain>``; default: the registrar host."""
    local_host: str = "127.0.0.1"
    local_port: int = Field(default=5060, ge=0, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    register_expires: int = Field(default=3600, ge=60, le=86400)
    outbound_proxy: str | None = None
    """Optional SIP URI every request is sent to (loose routing, ``;lr`` added to Route)."""
    min_digest_algorithm: Literal["MD5", "SHA-256", "SHA-512-256"] = "MD5"

    @field_validator("registrar", "outbound_proxy")
    @classmethod
    def _check_uri(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            uri = parse_uri(v)
        except SipUriError as exc:
            raise ValueError(f"invalid SIP URI {v!r}: {exc}") from None
        if uri.scheme != "sip":
            raise ValueError(f"invalid SIP URI {v!r}: only sip: URIs are supported (no TLS)")
        if uri.transport not in (None, "udp", "tcp"):
            raise ValueError(f"invalid SIP URI {v!r}: transport must be udp or tcp")
        return v.strip()

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            parse_uri(f"sip:{v.strip()}")
        except SipUriError:
            raise ValueError(f"invalid SIP domain {v!r}: expected a host name or address") from None
        return v.strip()

    @field_validator("local_host")
    @classmethod
    def _check_local_host(cls, v: str) -> str:
        try:
            parse_uri(f"sip:{v}" if ":" not in v else f"sip:[{v}]")
        except SipUriError:
            raise ValueError(f"invalid local_host {v!r}: expected a host name or IP address") from None
        return v

    @property
    def registrar_uri(self) -> SipUri | None:
        return parse_uri(self.registrar) if self.registrar else None

    @property
    def outbound_proxy_uri(self) -> SipUri | None:
        return parse_uri(self.outbound_proxy) if self.outbound_proxy else None

    @property
    def effective_domain(self) -> str | None:
        """``domain`` or, when unset, the registrar host (None when registration is off)."""
        if self.domain:
            return self.domain
        reg = self.registrar_uri
        return reg.host_for_uri if reg else None

    def transport_for(self, uri: SipUri) -> str:
        """The URI's ``;transport=`` parameter, else the configured transport."""
        return uri.transport or self.transport
