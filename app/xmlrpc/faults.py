"""MCU API 2.9 fault codes and strings (pp. 124-125), raised by handlers as ``McuFault``."""

from __future__ import annotations

from enum import IntEnum


class FaultCode(IntEnum):
    METHOD_NOT_SUPPORTED = 1
    DUPLICATE_CONFERENCE_NAME = 2
    DUPLICATE_PARTICIPANT_NAME = 3
    NO_SUCH_CONFERENCE = 4
    NO_SUCH_PARTICIPANT = 5
    TOO_MANY_CONFERENCES = 6
    TOO_MANY_PARTICIPANTS = 7
    NO_CONFERENCE_NAME = 8
    NO_PARTICIPANT_NAME = 9
    NO_PARTICIPANT_ADDRESS = 10
    INVALID_START_TIME = 11
    INVALID_END_TIME = 12
    INVALID_PIN = 13
    UNAUTHORISED = 14
    INSUFFICIENT_PRIVILEGES = 15
    INVALID_ENUMERATE_ID = 16
    PORT_RESERVATION_FAILURE = 17
    DUPLICATE_NUMERIC_ID = 18
    UNSUPPORTED_PROTOCOL = 19
    UNSUPPORTED_PARTICIPANT_TYPE = 20
    NO_CONFERENCE_ALIAS = 21  # TelePresence Conductor: factory.conferencecreate without conferenceAlias
    NEW_PORT_LIMIT_TOO_LOW = 25
    FLOOR_CONTROL_NOT_ENABLED = 26
    NO_SUCH_TEMPLATE = 27
    REQUIRED_VALUE_MISSING = 36
    MISSING_PARAMETER = 101
    INVALID_PARAMETER = 102
    MALFORMED_PARAMETER = 103
    MISMATCHED_PARAMETERS = 104
    OPERATION_FAILED = 201


FAULT_STRINGS: dict[FaultCode, str] = {
    FaultCode.METHOD_NOT_SUPPORTED: "method not supported",
    FaultCode.DUPLICATE_CONFERENCE_NAME: "duplicate conference name",
    FaultCode.DUPLICATE_PARTICIPANT_NAME: "duplicate participant name",
    FaultCode.NO_SUCH_CONFERENCE: "no such conference or auto attendant",
    FaultCode.NO_SUCH_PARTICIPANT: "no such participant",
    FaultCode.TOO_MANY_CONFERENCES: "too many conferences",
    FaultCode.TOO_MANY_PARTICIPANTS: "too many participants",
    FaultCode.NO_CONFERENCE_NAME: "no conference name or auto attendant id supplied",
    FaultCode.NO_PARTICIPANT_NAME: "no participant name supplied",
    FaultCode.NO_PARTICIPANT_ADDRESS: "no participant address supplied",
    FaultCode.INVALID_START_TIME: "invalid start time specified",
    FaultCode.INVALID_END_TIME: "invalid end time specified",
    FaultCode.INVALID_PIN: "invalid PIN specified",
    FaultCode.UNAUTHORISED: "unauthorised",
    FaultCode.INSUFFICIENT_PRIVILEGES: "insufficient privileges",
    FaultCode.INVALID_ENUMERATE_ID: "invalid enumerateID value",
    FaultCode.PORT_RESERVATION_FAILURE: "port reservation failure",
    FaultCode.DUPLICATE_NUMERIC_ID: "duplicate numeric ID",
    FaultCode.UNSUPPORTED_PROTOCOL: "unsupported protocol",
    FaultCode.UNSUPPORTED_PARTICIPANT_TYPE: "unsupported participant type",
    FaultCode.NO_CONFERENCE_ALIAS: "no conference alias supplied",
    FaultCode.NEW_PORT_LIMIT_TOO_LOW: "new port limit lower than currently active",
    FaultCode.FLOOR_CONTROL_NOT_ENABLED: "floor control not enabled for this conference",
    FaultCode.NO_SUCH_TEMPLATE: "no such template",
    FaultCode.REQUIRED_VALUE_MISSING: "required value missing",
    FaultCode.MISSING_PARAMETER: "missing parameter",
    FaultCode.INVALID_PARAMETER: "invalid parameter",
    FaultCode.MALFORMED_PARAMETER: "malformed parameter",
    FaultCode.MISMATCHED_PARAMETERS: "mismatched parameters",
    FaultCode.OPERATION_FAILED: "operation failed",
}


class McuFault(Exception):
    """A fault reply: HTTP 200 with ``<fault>`` carrying the MCU code and string."""

    def __init__(self, code: FaultCode, detail: str | None = None) -> None:
        self.code = code
        base = FAULT_STRINGS[code]
        self.fault_string = f"{base} - {detail}" if detail else base
        super().__init__(self.fault_string)

    @classmethod
    def missing(cls, member: str) -> McuFault:
        return cls(FaultCode.MISSING_PARAMETER, member)

    @classmethod
    def invalid(cls, member: str) -> McuFault:
        return cls(FaultCode.INVALID_PARAMETER, member)

    @classmethod
    def malformed(cls, member: str) -> McuFault:
        return cls(FaultCode.MALFORMED_PARAMETER, member)
