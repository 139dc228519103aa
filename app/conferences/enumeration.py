"""Paging, revisions and dead records of conference.enumerate / participant.enumerate (MCU API 2.9).

An ``enumerateID`` is opaque to clients: it carries the keyset position (the last record id handed
out), the enumeration's ``lastRevision``/``listAll`` and its issue time, signed with HMAC-SHA256 under a
key stored in the shared database, so any worker or instance accepts it and nobody can forge one.
Invented, altered or expired IDs are refused (InvalidEnumerateId: MCU fault 16).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from app.conferences.errors import InvalidEnumerateId

CONFERENCE_PAGE = 4  # without moreThanFour
CONFERENCE_PAGE_MORE = 24  # with moreThanFour ("up to 24")
PARTICIPANT_PAGE = 10  # the guide leaves the participant page size to the device
SCAN_FACTOR = 4  # a filtered page looks at no more than SCAN_FACTOR x page size rows
ENUMERATE_ID_LIFETIME_SECONDS = 600
DEAD_RECORD_SECONDS = 300  # "dead records are only cached for a few minutes"


@dataclass(frozen=True, slots=True)
class Cursor:
    kind: str  # "conference" or "participant"
    after_id: int
    last_revision: int | None
    list_all: bool
    issued_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EnumerateTokens:
    def __init__(self, key: bytes, *, lifetime: float = ENUMERATE_ID_LIFETIME_SECONDS) -> None:
        self._key = key
        self._lifetime = lifetime

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def issue(self, cursor: Cursor) -> str:
        payload = json.dumps(
            [cursor.kind, cursor.after_id, cursor.last_revision, cursor.list_all, int(cursor.issued_at)],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def open(self, token: str, *, kind: str, now: float | None = None) -> Cursor:
        """The cursor inside ``token``; InvalidEnumerateId unless it is ours, unaltered, unexpired and of this kind."""
        fault = InvalidEnumerateId()
        encoded, _, mac = token.partition(".")
        try:
            payload = _unb64(encoded)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                raise fault
            t_kind, after_id, last_revision, list_all, issued_at = json.loads(payload)
        except (ValueError, TypeError) as exc:
            raise fault from exc
        current = time.time() if now is None else now
        if t_kind != kind or not 0 <= current - issued_at <= self._lifetime:
            raise fault
        return Cursor(t_kind, int(after_id), last_revision, bool(list_all), float(issued_at))
