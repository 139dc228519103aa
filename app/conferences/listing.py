"""conference.enumerate and participant.enumerate: keyset pages over live and dead records.

Records are ordered by their never-reused id, and each page continues after the last id handed out,
so a record that exists for the whole enumeration is returned exactly once however many others are
created or destroyed between pages. Live rows and dead records are merged on that id. A page looks at
no more than a bounded number of rows, so a selective ``enumerateFilter`` yields short pages (with an
``enumerateID``) rather than unbounded work.

A stored record that cannot be rendered (data an earlier version let in that the repair migration did
not know about) is left out of its page with one warning line (at most one a minute per kind), never a
fault for the whole page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.conferences import store
from app.conferences.enumeration import (
    CONFERENCE_PAGE,
    CONFERENCE_PAGE_MORE,
    PARTICIPANT_PAGE,
    SCAN_FACTOR,
    Cursor,
)
from app.conferences.errors import InvalidSetting
from app.conferences.filters import Filter, FilterError, parse_filter
from app.conferences.models import Conference, ConferenceRow, Participant
from app.conferences.schemas import ConferenceEnumerateParams, EnumerateParams, ParticipantEnumerateParams
from app.conferences.service import ConferenceService
from app.conferences.views import (
    conference_is_active,
    conference_is_completed,
    conference_struct,
    conference_unchanged,
    deprecated_participant_struct,
    participant_identity,
    participant_struct,
)

logger = logging.getLogger("adhoc.conferences")

SKIP_REPORT_INTERVAL_SECONDS = 60.0
# What rendering a damaged stored record raises (a None where a number belongs, a bad stored date...).
_UNREADABLE = (TypeError, ValueError, AttributeError, KeyError, OverflowError, ArithmeticError)


class _SkipReports:
    """One warning per kind per interval; counts the skips it did not log."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at: dict[str, float] = {}
        self.unlogged: dict[str, int] = {}

    def skipped(self, kind: str, item_id: int) -> None:
        now = time.monotonic()
        if now < self.next_at.get(kind, 0.0):
            self.unlogged[kind] = self.unlogged.get(kind, 0) + 1
            return
        self.next_at[kind] = now + self.interval
        logger.warning(
            "stored record left out of an enumerate page: it cannot be read",
            extra={"kind": kind, "item_id": item_id, "earlier_skips_not_logged": self.unlogged.pop(kind, 0)},
        )


_skip_reports = _SkipReports(SKIP_REPORT_INTERVAL_SECONDS)

CONFERENCE_CRITERIA = frozenset({"active", "completed", "scheduled"})
PARTICIPANT_CRITERIA = frozenset({"connected", "disconnected", "connecting"})
DEFAULT_SCOPE = frozenset({"currentState", "configuredState"})


@dataclass(frozen=True, slots=True)
class _Item:
    item_id: int
    render: Callable[[], dict[str, Any]]
    criteria: Callable[[], dict[str, bool]] | None  # None: a dead record, never filtered out
    keep: bool = True  # False: outside the conferences asked for (factoryConferenceIds)


# A filter's arithmetic on huge literals can overflow (``/`` goes through a float) or exceed int()'s digit
# limit: the filter is bad, fault 102, like any other it cannot evaluate.
_BAD_FILTER = (FilterError, ArithmeticError, ValueError)


def _filter(text: str | None, criteria: frozenset[str]) -> Filter | None:
    if text is None or text.strip() == "":
        return None
    try:
        return parse_filter(text, criteria)
    except _BAD_FILTER:
        raise InvalidSetting(member="enumerateFilter") from None


def _matches(matcher: Filter, criteria: dict[str, bool]) -> bool:
    try:
        return matcher.matches(criteria)
    except _BAD_FILTER:
        raise InvalidSetting(member="enumerateFilter") from None


async def _cursor(service: ConferenceService, params: EnumerateParams, kind: str) -> Cursor:
    if params.enumerateID is not None:
        return (await service.tokens()).open(params.enumerateID, kind=kind)
    return Cursor(kind, 0, params.lastRevision, params.listAll, time.time())


def _dead_item(record: tuple[int, dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None) -> _Item:
    item_id, identity = record
    return _Item(item_id, lambda: {**identity, "dead": True}, None, keep is None or keep(identity))


def _dead(connection: Connection, cursor: Cursor, scan: int) -> list[tuple[int, dict[str, Any]]]:
    """Dead records a revision-based enumeration reports, merged into the page by id."""
    if cursor.last_revision is None or cursor.list_all:
        return []
    return store.dead_page(connection, cursor.kind, cursor.after_id, cursor.last_revision, scan + 1)


async def _page(
    service: ConferenceService,
    cursor: Cursor,
    live: Sequence[_Item],
    dead: Sequence[tuple[int, dict[str, Any]]],
    page_size: int,
    scan: int,
    matcher: Filter | None,
    dead_kept: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    dead_items = [_dead_item(record, dead_kept) for record in dead]
    candidates = sorted([*live, *dead_items], key=lambda item: item.item_id)[: scan + 1]
    out: list[dict[str, Any]] = []
    consumed = 0
    for item in candidates[:scan]:
        consumed += 1
        try:
            if item.keep and (item.criteria is None or matcher is None or _matches(matcher, item.criteria())):
                out.append(item.render())
        except _UNREADABLE:
            _skip_reports.skipped(cursor.kind, item.item_id)
        if len(out) == page_size:
            break
    if consumed == len(candidates):
        return out, None
    last_id = candidates[consumed - 1].item_id
    next_cursor = Cursor(cursor.kind, last_id, cursor.last_revision, cursor.list_all, time.time())
    return out, (await service.tokens()).issue(next_cursor)


def _since(cursor: Cursor) -> int | None:
    return cursor.last_revision if not cursor.list_all else None


async def enumerate_conferences(service: ConferenceService, params: ConferenceEnumerateParams) -> dict[str, Any]:
    matcher = _filter(params.enumerateFilter, CONFERENCE_CRITERIA)
    cursor = await _cursor(service, params, "conference")
    page_size = CONFERENCE_PAGE_MORE if params.moreThanFour else CONFERENCE_PAGE
    scan = page_size * (SCAN_FACTOR if matcher is not None else 1)
    now: datetime = service.clock()
    changed_since = cursor.last_revision if cursor.list_all else None

    def unit(connection: Connection) -> tuple[int, list[ConferenceRow], list[tuple[int, dict[str, Any]]]]:
        revision, rows = store.conference_page(connection, cursor.after_id, _since(cursor), scan + 1)
        return revision, rows, _dead(connection, cursor, scan)

    revision, rows, dead = await service.database.run_core(unit, write=False)

    def item(conference: ConferenceRow) -> _Item:
        def render() -> dict[str, Any]:
            if changed_since is not None and conference.revision <= changed_since:
                return conference_unchanged(conference)
            return conference_struct(conference, now)

        def criteria() -> dict[str, bool]:
            return {
                "active": conference_is_active(conference, now),
                "completed": conference_is_completed(conference, now),
                "scheduled": True,
            }

        return _Item(conference.id, render, criteria)

    records, token = await _page(service, cursor, [item(row) for row in rows], dead, page_size, scan, matcher)
    reply: dict[str, Any] = {"currentRevision": revision}
    if records:
        reply["conferences"] = records
    if token is not None:
        reply["enumerateID"] = token
    return reply


async def enumerate_participants(
    service: ConferenceService, params: ParticipantEnumerateParams, *, conference_names: frozenset[str] | None = None
) -> dict[str, Any]:
    """``conference_names``: only participants of these conferences; no ``operationScope``: the deprecated
    flat struct (guide p.85)."""
    matcher = _filter(params.enumerateFilter, PARTICIPANT_CRITERIA)
    deprecated = params.operationScope is None
    scope = frozenset(params.operationScope) if params.operationScope else DEFAULT_SCOPE
    cursor = await _cursor(service, params, "participant")
    narrowed = matcher is not None or conference_names is not None
    scan = PARTICIPANT_PAGE * (SCAN_FACTOR if narrowed else 1)
    now = service.clock()
    changed_since = cursor.last_revision if cursor.list_all else None

    def unit(
        session: Session,
    ) -> tuple[int, list[tuple[Participant, Conference]], list[tuple[int, dict[str, Any]]]]:
        revision = store.current_revision(session)
        rows = store.participant_page(session, cursor.after_id, _since(cursor), scan + 1)
        return revision, rows, _dead(session.connection(), cursor, scan)

    revision, rows, dead = await service.database.run(unit, write=False)

    def item(participant: Any, conference: Any) -> _Item:
        def render() -> dict[str, Any]:
            if changed_since is not None and participant.revision <= changed_since:
                return {**participant_identity(participant, conference.name), "changed": False}
            if deprecated:
                return deprecated_participant_struct(participant, conference, now)
            return participant_struct(participant, conference, now, scope)

        def criteria() -> dict[str, bool]:
            return {
                "connected": participant.call_state == "connected",
                "disconnected": participant.call_state == "disconnected",
                "connecting": participant.call_state in ("alerting", "connecting"),
            }

        keep = conference_names is None or conference.name in conference_names
        return _Item(participant.id, render, criteria, keep)

    def dead_kept(identity: dict[str, Any]) -> bool:
        return conference_names is None or identity.get("conferenceName") in conference_names

    live = [item(participant, conference) for participant, conference in rows]
    records, token = await _page(service, cursor, live, dead, PARTICIPANT_PAGE, scan, matcher, dead_kept)
    reply: dict[str, Any] = {"currentRevision": revision}
    if records:
        reply["participants"] = records
    if token is not None:
        reply["enumerateID"] = token
    return reply
