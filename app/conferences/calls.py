"""The store side of SIP calls (``app/calls/``): callers as ``ad_hoc`` participants, dial-outs, routing.

Units of work on the conference store, beside :class:`~app.conferences.service.ConferenceService` (whose
revision counter, port limit and cleanup bookkeeping they share), so the MCU API shows the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.conferences import call_store, store
from app.conferences.models import Conference, ConferenceRow, Participant
from app.conferences.service import ConferenceService
from app.conferences.views import conference_is_active

__all__ = ["CallAdmission", "CallParticipantState", "CallParticipants", "CallRefusal", "DialOut"]


MAX_OWN_REVISIONS = 4096

CallRefusal = str
"""Why a call cannot join: ``unknown``, ``inactive``, ``locked``, ``pin`` or ``full``."""


@dataclass(frozen=True, slots=True)
class CallAdmission:
    conference_name: str
    conference_id: int
    participant_id: int
    guest: bool


@dataclass(frozen=True, slots=True)
class CallParticipantState:
    call_state: str
    audio_rx_muted: bool


@dataclass(frozen=True, slots=True)
class DialOut:
    participant_id: int
    conference_id: int
    conference_name: str
    address: str
    display: str


class CallParticipants:
    """The participants the SIP calls of the owner process put in the store (type ``ad_hoc``, protocol ``sip``)."""

    def __init__(self, service: ConferenceService) -> None:
        self.service = service
        self._own_revisions: set[int] = set()
        """Revisions committed by our own admit/connected/ended units: changes the owner need not look at."""

    def only_own_changes(self, since: int, revision: int) -> bool:
        """True when every revision after ``since`` up to ``revision`` was committed by this object's call
        bookkeeping (admit, connected, ended): nothing the owner's reconciliation reacts to changed."""
        own = self._own_revisions
        if not since < revision <= since + len(own):  # a revision that went back is never only ours
            return False
        return all(r in own for r in range(since + 1, revision + 1))

    def forget_own_changes(self, through: int) -> None:
        """The owner has looked at everything up to ``through``."""
        self._own_revisions = {r for r in self._own_revisions if r > through}

    def _committed(self, revision: int | None) -> None:
        if revision is None:
            return
        if len(self._own_revisions) >= MAX_OWN_REVISIONS:  # the owner is not looking: nothing to skip
            self._own_revisions.clear()
        self._own_revisions.add(revision)

    async def admit(
        self, numeric_id: str, *, display_name: str, address: str, direction: str = "incoming", dry_run: bool = False
    ) -> CallAdmission | CallRefusal | None:
        """One unit: route the dialled number and, if it may join, add a ``connecting`` participant.

        ``dry_run`` only routes (None: it may join), without writing.
        """
        service = self.service
        now = service.clock()

        def route(connection: Connection) -> tuple[CallRefusal, None] | tuple[None, tuple[ConferenceRow, bool]]:
            found = call_store.conference_by_numeric_id(connection, numeric_id)
            if found is None:
                return "unknown", None
            conference, guest = found
            if not isinstance(conference.options, dict):  # a row damaged by hand: no settings to honour
                conference.options = {}
            if not conference_is_active(conference, now):
                return "inactive", None
            if conference.locked:
                return "locked", None
            if conference.options.get("guestPin" if guest else "pin") or conference.options.get("pin"):
                return "pin", None
            if call_store.participant_count(connection, conference.id) >= service._port_limit(conference):
                return "full", None
            return None, found

        def unit(connection: Connection) -> tuple[CallAdmission | CallRefusal | None, int | None]:
            refusal, found = route(connection)
            if refusal is not None or dry_run:
                return refusal, None
            assert found is not None
            conference, guest = found
            revision = service._bump(connection)
            participant_id = call_store.insert_participant(
                connection,
                {
                    "conference_id": conference.id,
                    "name": f"~{now.timestamp()}",
                    "protocol": "sip",
                    "participant_type": "ad_hoc",
                    "address": address[:63],
                    "options": {"displayName": display_name[:31], "callDirection": direction, "addAsGuest": guest},
                    "call_state": "connecting",
                    "connect_time": None,
                    "disconnect_time": None,
                    "disconnect_reason": None,
                    "revision": revision,
                },
            )
            call_store.rename_participant(connection, participant_id, str(participant_id))
            self._refresh_presence(connection, conference, revision, now)
            return CallAdmission(conference.name, conference.id, participant_id, guest), revision

        result, revision = await service.database.run_core(unit, write=not dry_run)
        self._committed(revision)
        return result

    async def connected(self, participant_id: int) -> None:
        service = self.service
        now = service.clock()

        def unit(connection: Connection) -> int | None:
            if call_store.call_state(connection, participant_id) != "connecting":
                return None
            revision = service._bump(connection)
            call_store.mark_connected(connection, participant_id, now, revision)
            return revision

        self._committed(await service.database.run_core(unit))

    async def ended(self, participant_id: int) -> None:
        """The call is over: the participant disappears (a dead record for ``lastRevision`` queries)."""
        service = self.service
        now = service.clock()

        def unit(connection: Connection) -> int | None:
            found = call_store.participant_for_end(connection, participant_id)
            if found is None:
                return None
            identity, _conference_id, conference = found
            revision = service._bump(connection)
            call_store.insert_dead(connection, "participant", participant_id, identity, revision, now)
            call_store.delete_participant(connection, participant_id)
            if conference is not None:
                self._refresh_presence(connection, conference, revision, now)
            return revision

        self._committed(await service.database.run_core(unit))

    def _refresh_presence(
        self, connection: Connection, conference: ConferenceRow, revision: int, now: datetime
    ) -> None:
        """The conference's new revision and cleanup deadline, from its participants present now."""
        self.service._refresh_cleanup(conference, call_store.present_count(connection, conference.id), now)
        call_store.update_presence(connection, conference, revision)

    async def states(self, participant_ids: list[int]) -> dict[int, CallParticipantState]:
        """Current state of these participants; a missing id was removed (or its conference destroyed)."""
        if not participant_ids:
            return {}
        now = self.service.clock()

        def unit(connection: Connection) -> dict[int, CallParticipantState]:
            out: dict[int, CallParticipantState] = {}
            for participant_id, state, options, conference in call_store.participant_states(
                connection, participant_ids
            ):
                if conference is None or not conference_is_active(conference, now):
                    state = "disconnected"
                muted = isinstance(options, dict) and bool(options.get("audioRxMuted"))
                out[participant_id] = CallParticipantState(state, muted)
            return out

        return await self.service.database.run_core(unit, write=False)

    async def claim_dial_outs(self, busy: set[int], limit: int = 20) -> list[DialOut]:
        """``by_address`` SIP participants of active conferences that should be in a call and have none here
        (``connecting``: added or ``participant.connect``; ``connected``: a dead owner's call), marked
        ``connecting`` and returned, for the owner to dial."""
        service = self.service
        now = service.clock()

        def unit(session: Session) -> list[DialOut]:
            rows = (
                session.query(Participant, Conference)
                .join(Conference, Conference.id == Participant.conference_id)
                .filter(
                    Participant.participant_type == "by_address",
                    Participant.protocol == "sip",
                    Participant.call_state.in_(("connecting", "connected")),
                )
                .order_by(Participant.id)
                .limit(limit + len(busy))
                .all()
            )
            wanted = [(p, c) for p, c in rows if p.id not in busy and conference_is_active(c, now)][:limit]
            if not wanted:
                return []
            revision = service._bump(session)
            out: list[DialOut] = []
            for participant, conference in wanted:
                participant.call_state = "connecting"
                participant.connect_time = None
                participant.revision = revision
                conference.revision = revision
                options = participant.options if isinstance(participant.options, dict) else {}  # a damaged row
                override = options.get("displayNameOverrideValue") if options.get("displayNameOverrideStatus") else None
                display = str(override or participant.name)
                out.append(DialOut(participant.id, conference.id, conference.name, participant.address, display))
            return out

        return await service.database.run(unit)

    async def dial_ended(self, participant_id: int, reason: str) -> None:
        """A dial-out failed or ended: ``disconnected`` with ``reason`` (it stays, as configured)."""
        service = self.service
        now = service.clock()

        def unit(session: Session) -> None:
            participant = session.get(Participant, participant_id)
            if participant is None or participant.call_state not in ("connecting", "connected"):
                return
            conference = session.get(Conference, participant.conference_id)
            revision = service._bump(session)
            participant.call_state = "disconnected"
            participant.disconnect_time = now
            participant.disconnect_reason = reason[:32]
            participant.revision = revision
            session.flush()
            if conference is not None:
                conference.revision = revision
                service._refresh_presence(session, conference, now)

        await service.database.run(unit)

    async def clear_orphans(self) -> None:
        """A new owner starts clean: callers a dead owner left behind go (their calls died with it); its
        dial-outs, ``connecting`` or ``connected``, are claimed and dialled again by ``claim_dial_outs``."""
        service = self.service
        now = service.clock()

        def unit(session: Session) -> None:
            incoming = (
                session.query(Participant)
                .filter(Participant.participant_type == "ad_hoc", Participant.protocol == "sip")
                .all()
            )
            if not incoming:
                return
            revision = service._bump(session)
            touched: set[int] = set()
            for participant in incoming:
                dead = {
                    "participantName": participant.name,
                    "participantProtocol": participant.protocol,
                    "participantType": participant.participant_type,
                    "conferenceName": "",
                }
                conference = session.get(Conference, participant.conference_id)
                if conference is not None:
                    dead["conferenceName"] = conference.name
                store.add_dead(session, "participant", participant.id, dead, revision, now)
                touched.add(participant.conference_id)
                session.delete(participant)
            session.flush()
            for conference_id in touched:
                conference = session.get(Conference, conference_id)
                if conference is not None:
                    conference.revision = revision
                    service._refresh_presence(session, conference, now)

        await service.database.run(unit)

    async def live_conferences(self, conference_ids: list[int]) -> set[int]:
        """Which of these conferences exist and are active (the others' mixing rooms can go)."""
        if not conference_ids:
            return set()
        now = self.service.clock()

        def unit(connection: Connection) -> set[int]:
            rows = call_store.live_conferences(connection, conference_ids)
            return {conference.id for conference in rows if conference_is_active(conference, now)}

        return await self.service.database.run_core(unit, write=False)

    async def current_revision(self) -> int:
        return await self.service.database.run_core(call_store.current_revision, write=False)
