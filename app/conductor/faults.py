"""The Conductor dialect's reading of the conference domain's errors: MCU numbers, Conductor strings."""

from __future__ import annotations

from app.conferences import errors
from app.mcu.faults import mcu_fault
from app.xmlrpc.faults import FaultCode, McuFault

ALREADY_PRESENT = "conference already present"


def conductor_fault(error: errors.ConferenceError) -> McuFault:
    """An alias in use (as a name or as a numeric ID) is fault 2 "... conference already present"."""
    if isinstance(error, errors.DuplicateConferenceName | errors.DuplicateNumericId):
        return McuFault(FaultCode.DUPLICATE_CONFERENCE_NAME, ALREADY_PRESENT)
    return mcu_fault(error)


def translate(exc: Exception) -> McuFault | None:
    """The dispatcher's reading of what a factory method raised: a domain refusal is its Conductor fault."""
    return conductor_fault(exc) if isinstance(exc, errors.ConferenceError) else None
