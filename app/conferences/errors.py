"""What the conference domain refuses, in its own words; each XML-RPC dialect maps these to its faults.

The domain knows nothing of fault numbers: ``app.mcu.faults`` (MCU API 2.9) and
``app.conductor.faults`` translate. ``detail`` is a short fixed phrase safe to show a client (never
exception text or input echoed back); ``member`` names the offending input member when there is one.
"""

from __future__ import annotations


class ConferenceError(Exception):
    """Base of every refusal the conference domain raises."""

    def __init__(self, detail: str | None = None, *, member: str | None = None) -> None:
        self.detail = detail
        self.member = member
        super().__init__(detail or type(self).__name__)


class NoSuchConference(ConferenceError):
    """Conductor clients look for "not found" in the fault string, so the phrase is always there."""

    def __init__(self, detail: str | None = "conference not found", *, member: str | None = None) -> None:
        super().__init__(detail, member=member)


class DuplicateConferenceName(ConferenceError):
    pass


class DuplicateNumericId(ConferenceError):
    pass


class ConferenceLimitReached(ConferenceError):
    pass


class NoSuchParticipant(ConferenceError):
    pass


class DuplicateParticipantName(ConferenceError):
    pass


class ParticipantLimitReached(ConferenceError):
    pass


class NoParticipantName(ConferenceError):
    pass


class NoParticipantAddress(ConferenceError):
    pass


class UnsupportedProtocol(ConferenceError):
    pass


class UnsupportedParticipantType(ConferenceError):
    pass


class StartTimeInPast(ConferenceError):
    """A finite conference whose end is already past at creation."""


class EndBeforeStart(ConferenceError):
    pass


class InvalidSetting(ConferenceError):
    """A setting whose value is refused in context (``member`` names it)."""


class PortReservationFailure(ConferenceError):
    pass


class PortLimitBelowConnected(ConferenceError):
    """A new port limit lower than the participants connected now."""


class OperationRefused(ConferenceError):
    """The operation cannot be done in the current state (``detail`` says why)."""


class NoConferenceName(ConferenceError):
    """A conference must be named (a missing or empty name)."""


class InvalidPin(ConferenceError):
    """A PIN is digits only."""


class MismatchedSettings(ConferenceError):
    """Settings given together that exclude each other (``member`` names them)."""


class NoSuchTemplate(ConferenceError):
    """Only the default template exists."""


class RequiredSettingMissing(ConferenceError):
    """A setting another one requires was not given (``member`` names it)."""


class InvalidEnumerateId(ConferenceError):
    """An enumeration cursor that is not ours, was altered, has expired or is of another kind."""
