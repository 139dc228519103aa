"""HTTP Basic ``Authorization`` header parsing (RFC 7617, UTF-8 credentials)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str


class MalformedBasicHeader(ValueError):
    """The Authorization header is present but is not a usable Basic credential."""


def parse_basic(header: str | None) -> BasicCredentials | None:
    """``None`` when there is no header; ``MalformedBasicHeader`` when it is unusable."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise MalformedBasicHeader("not a Basic credential")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedBasicHeader("undecodable Basic credential") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise MalformedBasicHeader("Basic credential without a colon")
    return BasicCredentials(username, password)
