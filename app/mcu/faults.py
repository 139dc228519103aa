"""The MCU API 2.9 dialect's reading of the conference domain's errors (fault codes pp. 124-125)."""

from __future__ import annotations

from app.conferences import errors
from app.xmlrpc.faults import FaultCode, McuFault

MCU_CODES: dict[type[errors.ConferenceError], FaultCode] = {
    errors.NoSuchConference: FaultCode.NO_SUCH_CONFERENCE,
    errors.DuplicateConferenceName: FaultCode.DUPLICATE_CONFERENCE_NAME,
    errors.DuplicateNumericId: FaultCode.DUPLICATE_NUMERIC_ID,
    errors.ConferenceLimitReached: FaultCode.TOO_MANY_CONFERENCES,
    errors.NoSuchParticipant: FaultCode.NO_SUCH_PARTICIPANT,
    errors.DuplicateParticipantName: FaultCode.DUPLICATE_PARTICIPANT_NAME,
    errors.ParticipantLimitReached: FaultCode.TOO_MANY_PARTICIPANTS,
    errors.NoParticipantName: FaultCode.NO_PARTICIPANT_NAME,
    errors.NoParticipantAddress: FaultCode.NO_PARTICIPANT_ADDRESS,
    errors.UnsupportedProtocol: FaultCode.UNSUPPORTED_PROTOCOL,
    errors.UnsupportedParticipantType: FaultCode.UNSUPPORTED_PARTICIPANT_TYPE,
    errors.StartTimeInPast: FaultCode.INVALID_START_TIME,
    errors.EndBeforeStart: FaultCode.INVALID_END_TIME,
    errors.InvalidSetting: FaultCode.INVALID_PARAMETER,
    errors.PortReservationFailure: FaultCode.PORT_RESERVATION_FAILURE,
    errors.PortLimitBelowConnected: FaultCode.NEW_PORT_LIMIT_TOO_LOW,
    errors.OperationRefused: FaultCode.OPERATION_FAILED,
    errors.NoConferenceName: FaultCode.NO_CONFERENCE_NAME,
    errors.InvalidPin: FaultCode.INVALID_PIN,
    errors.MismatchedSettings: FaultCode.MISMATCHED_PARAMETERS,
    errors.NoSuchTemplate: FaultCode.NO_SUCH_TEMPLATE,
    errors.RequiredSettingMissing: FaultCode.REQUIRED_VALUE_MISSING,
    errors.InvalidEnumerateId: FaultCode.INVALID_ENUMERATE_ID,
}


def mcu_fault(error: errors.ConferenceError) -> McuFault:
    """The fault an MCU answers for ``error`` (201 for a refusal this table does not know)."""
    for kind in type(error).__mro__:
        code = MCU_CODES.get(kind)
        if code is not None:
            return McuFault(code, error.member or error.detail)
    return McuFault(FaultCode.OPERATION_FAILED)


def translate(exc: Exception) -> McuFault | None:
    """The dispatcher's reading of what an MCU method raised: a domain refusal is its MCU fault."""
    return mcu_fault(exc) if isinstance(exc, errors.ConferenceError) else None
