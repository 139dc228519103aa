"""``python -m app sip-options <sip-uri>``: send OPTIONS, answer challenges, print status, realm and algorithm."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import TextIO

from app.sip.client import RequestResult, SipUserAgent
from app.sip.digest import CredentialLookup, DigestSession
from app.sip.settings import SipSettings
from app.sip.uri import SipUriError, parse_uri

__all__ = ["ProbeResult", "probe", "run_options_cli"]


@dataclass(frozen=True)
class ProbeResult:
    uri: str
    status: int | None
    status_line: str | None
    realm: str | None
    algorithm: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def probe(
    uri: str,
    settings: SipSettings,
    lookup: CredentialLookup,
    *,
    user_agent: SipUserAgent | None = None,
) -> ProbeResult:
    """Send one OPTIONS to ``uri`` (via ``settings.outbound_proxy`` if set) and follow digest challenges."""
    parse_uri(uri)  # SipUriError (a ValueError) for a bad URI
    ua = user_agent or SipUserAgent(settings, lookup)
    own = user_agent is None
    if own:
        await ua.start()
    try:
        session = DigestSession(lookup, min_algorithm=settings.min_digest_algorithm)
        result: RequestResult = await ua.request(
            "OPTIONS", uri, headers=[("Accept", "application/sdp")], digest=session
        )
    finally:
        if own:
            await ua.stop()
    return ProbeResult(
        uri=uri,
        status=result.status,
        status_line=result.status_line,
        realm=result.realm,
        algorithm=result.algorithm,
        error=result.error,
    )


def format_probe(result: ProbeResult) -> str:
    lines = [result.status_line or "no final response"]
    lines.append(f"realm: {result.realm if result.realm is not None else '-'}")
    lines.append(f"algorithm: {result.algorithm if result.algorithm is not None else '-'}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines) + "\n"


def run_options_cli(
    argv: list[str],
    settings: SipSettings,
    lookup: CredentialLookup,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Entry point for ``sip-options``; ``argv`` excludes the sub-command name. Exit 0 on 2xx, else 1.

    Runs its own event loop (``asyncio.run``): call it from synchronous CLI code only.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m app sip-options", description="Send a SIP OPTIONS request, answering digest challenges."
    )
    parser.add_argument("uri", help="target SIP URI, e.g. sip:registrar.example.com")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 1
    try:
        parse_uri(args.uri)
    except SipUriError as exc:
        err.write(f"invalid SIP URI: {exc}\n")
        return 1
    try:
        result = asyncio.run(probe(args.uri, settings, lookup))
    except OSError as exc:
        err.write(f"cannot send OPTIONS: {exc}\n")
        return 1
    out.write(format_probe(result))
    return 0 if result.ok else 1
