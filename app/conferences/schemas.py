"""Parameter structs of the conference.* and participant.* methods (MCU API 2.9 names and types).

Strings are at most 31 characters unless the guide says otherwise (addresses: 63); longer is fault 102
naming the member. A missing or empty ``conferenceName``/``participantName`` is fault 8/9 as on an MCU.

Dates lie between ``EARLIEST_DATETIME`` and ``LATEST_DATETIME`` and durations fit 32 bits (fault 102
otherwise), so every time derived from them (end = start + duration, cleanup = end + cleanupTimeout,
both at most 2**31 - 1 seconds, about 68 years) stays far inside what ``datetime`` and the databases
hold, and every stored value can be written back as XML-RPC. ``nil`` is refused by the dispatcher.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.conferences import errors

EARLIEST_DATETIME = datetime(1970, 1, 1)
LATEST_DATETIME = datetime(9000, 12, 31, 23, 59, 59)
MAX_DURATION_SECONDS = 2**31 - 1  # an XML-RPC <int>

Moment = Annotated[datetime, Field(ge=EARLIEST_DATETIME, le=LATEST_DATETIME)]


class StrictStruct(BaseModel):
    """Base of the settings structs: strict types (nothing coerced); unknown members ignored, as an MCU does."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=False)


Str31 = Annotated[str, StringConstraints(max_length=31)]
Str63 = Annotated[str, StringConstraints(max_length=63)]
NonNegative = Annotated[int, Field(ge=0)]
Ports = Annotated[int, Field(ge=0, le=10_000)]

Protocol = Literal["h323", "sip", "vnc"]
ParticipantType = Literal["by_address", "by_name", "ad_hoc"]


def _check_pin(value: str | None) -> str | None:
    if value is not None and not value.isdigit() and value != "":
        raise errors.InvalidPin
    if value is not None and not value.isascii():
        raise errors.InvalidPin
    return value


class _NamedParams(StrictStruct):
    """Turns a missing or empty identifying name into its own MCU fault (8 or 9) rather than 101."""

    required_names: ClassVar[dict[str, type[errors.ConferenceError]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _names_present(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for member, refusal in cls.required_names.items():
                if member not in data or data[member] == "":
                    raise refusal
        return data


class ConferenceNameParams(_NamedParams):
    required_names: ClassVar[dict[str, type[errors.ConferenceError]]] = {"conferenceName": errors.NoConferenceName}

    conferenceName: Str31


class ConferenceOptions(StrictStruct):
    """Every documented optional member of conference.create/modify that needs no media path."""

    numericId: Str31 | None = None
    guestNumericId: Str31 | None = None
    conferenceID: Str31 | None = None  # deprecated alias of numericId
    pin: Str31 | None = None
    guestPin: Str31 | None = None
    description: Str31 | None = None
    private: bool | None = None
    registerWithGatekeeper: bool | None = None
    registerWithSIPRegistrar: bool | None = None
    startTime: Moment | None = None
    durationSeconds: NonNegative | None = None
    endTime: Moment | None = None  # deprecated by durationSeconds
    cleanupTimeout: NonNegative | None = None
    templateName: Str31 | None = None
    templateNumber: NonNegative | None = None
    joinAudioMuted: bool | None = None
    joinVideoMuted: bool | None = None
    startLocked: bool | None = None
    conferenceMeEnabled: bool | None = None
    multicastStreamingEnabled: bool | None = None
    unicastStreamingEnabled: bool | None = None
    encryptionRequired: bool | None = None
    contentContribution: bool | None = None
    contentImportant: bool | None = None
    h239Important: bool | None = None
    contentMode: Literal["disabled", "passthrough", "transcoded", "hybrid"] | None = None
    h239Enabled: bool | None = None
    contentTxCodec: Literal["h263+", "h264", "automatic"] | None = None
    contentTxMinimumBitRate: Str31 | None = None
    contentTransmitResolutions: Literal["4to3Only", "16to9Only", "allowAll"] | None = None
    lastChairmanLeavesDisconnect: bool | None = None
    preconfiguredParticipantsDefer: bool | None = None
    enforceMaximumAudioPorts: bool | None = None
    enforceMaximumVideoPorts: bool | None = None
    maximumAudioPorts: Ports | None = None
    maximumVideoPorts: Ports | None = None
    reservedAudioPorts: Ports | None = None
    reservedVideoPorts: Ports | None = None
    customLayoutEnabled: bool | None = None
    newParticipantsCustomLayout: bool | None = None
    customLayout: NonNegative | None = None
    layoutControlEx: Literal["disabled", "feccOnly", "dtmfOnly", "feccWithDtmfFallback", "bothFeccAndDtmf"] | None = (
        None
    )
    cameraControl: (
        Literal["disabled", "feccOnly", "dtmfOnly", "feccWithDtmfFallback", "bothFeccAndDtmf", "default"] | None
    ) = None
    chairControl: Literal["none", "floorControlOnly", "chairAndFloorControl"] | None = None
    suppressDtmfEx: Literal["fecc", "always", "never"] | None = None
    inCallMenuControlChair: Literal["off", "local", "conference", "advanced"] | None = None
    inCallMenuControlGuest: Literal["off", "local"] | None = None
    automaticLectureMode: Literal["type1", "type2", "disabled"] | None = None
    automaticLectureModeEnabled: bool | None = None
    automaticLectureModeTimeout: NonNegative | None = None
    repetition: Literal["none", "daily", "weekly", "everyTwoWeeks", "monthly"] | None = None
    weekDay: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] | None = None
    whichWeek: Literal["first", "second", "third", "fourth", "last"] | None = None
    weekDays: Annotated[str, StringConstraints(max_length=63)] | None = None
    terminationType: Literal["noTermination", "afterNRepeats", "endOnGivenDate"] | None = None
    terminationDate: Moment | None = None
    numberOfRepeats: NonNegative | None = None
    dtmfMuteControl: bool | None = None

    _check_pins = field_validator("pin", "guestPin")(_check_pin)

    @field_validator("numericId", "guestNumericId", "conferenceID")
    @classmethod
    def _digits_only(cls, value: str | None) -> str | None:
        if value and not (value.isascii() and value.isdigit()):
            raise ValueError("numeric IDs are digits")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ConferenceOptions:
        if self.templateName is not None and self.templateNumber is not None:
            raise errors.MismatchedSettings(member="templateName and templateNumber")
        if self.templateName not in (None, "default") or self.templateNumber not in (None, 0):
            raise errors.NoSuchTemplate
        if self.repetition == "monthly" and (self.weekDay is None or self.whichWeek is None):
            raise errors.RequiredSettingMissing(member="weekDay and whichWeek")
        if self.repetition in ("weekly", "everyTwoWeeks") and self.weekDays is None:
            raise errors.RequiredSettingMissing(member="weekDays")
        if self.terminationType == "endOnGivenDate" and self.terminationDate is None:
            raise errors.RequiredSettingMissing(member="terminationDate")
        if self.terminationType == "afterNRepeats" and self.numberOfRepeats is None:
            raise errors.RequiredSettingMissing(member="numberOfRepeats")
        return self


class CreateConferenceParams(ConferenceOptions, ConferenceNameParams):
    pass


class ModifyConferenceParams(ConferenceOptions, ConferenceNameParams):
    newConferenceName: Str31 | None = None
    locked: bool | None = None

    @field_validator("newConferenceName")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value == "":
            raise errors.NoConferenceName
        return value


class EnumerateParams(StrictStruct):
    enumerateID: Annotated[str, StringConstraints(max_length=1024)] | None = None
    lastRevision: int | None = None
    listAll: bool = False
    enumerateFilter: Annotated[str, StringConstraints(max_length=1024)] | None = None


class ConferenceEnumerateParams(EnumerateParams):
    moreThanFour: bool = False


CurrentOrConfigured = Literal["currentState", "configuredState"]


class ParticipantEnumerateParams(EnumerateParams):
    # Required by 2.9, but "the device will respond if you omit operationScope" (deprecated form).
    operationScope: Annotated[list[CurrentOrConfigured], Field(max_length=2)] | None = None


class ParticipantIdentity(_NamedParams):
    required_names: ClassVar[dict[str, type[errors.ConferenceError]]] = {
        "conferenceName": errors.NoConferenceName,
        "participantName": errors.NoParticipantName,
    }

    conferenceName: Str31
    participantName: Str31
    participantProtocol: Protocol | None = None
    participantType: ParticipantType | None = None


class ParticipantSettings(StrictStruct):
    """Optional participant.add/modify members stored by the control plane."""

    gatewayAddress: Str63 | None = None
    useSIPRegistrar: bool | None = None
    transportProtocol: Literal["default", "tcp", "udp", "tls"] | None = None
    deferConnection: bool | None = None
    addAsGuest: bool | None = None
    actAsRecorder: bool | None = None
    maxBitRateToMCU: NonNegative | None = None
    maxBitRateFromMCU: NonNegative | None = None
    motionSharpnessTradeoff: Literal["preferMotion", "preferSharpness", "balanced", "default"] | None = None
    displayNameOverrideStatus: bool | None = None
    displayNameOverrideValue: Str31 | None = None
    cpLayout: Str31 | None = None
    layoutControlEx: Literal["disabled", "feccOnly", "dtmfOnly", "feccWithDtmfFallback", "bothFeccAndDtmf"] | None = (
        None
    )
    audioRxMuted: bool | None = None
    audioRxGainMode: Literal["none", "automatic", "fixed"] | None = None
    audioRxGainMillidB: int | None = None
    videoRxMuted: bool | None = None
    videoTxWidescreen: bool | None = None
    videoTxMaxResolution: Literal["cif", "4cif", "max"] | None = None
    videoRxMaxResolution: Literal["cif", "4cif", "max"] | None = None
    autoConnect: bool | None = None
    autoDisconnect: bool | None = None
    borderWidth: NonNegative | None = None
    dtmfSequence: Annotated[str, StringConstraints(max_length=127, pattern=r"^[0-9*#,]*$")] | None = None
    linkType: Literal["cascadeSlaveToMaster", "default"] | None = None
    suppressDtmfEx: Literal["fecc", "always", "never"] | None = None
    h239Negotiation: Literal["As master", "As slave", "Mimic slave"] | None = None


class AddParticipantParams(ParticipantSettings, ParticipantIdentity):
    required_names: ClassVar[dict[str, type[errors.ConferenceError]]] = {"conferenceName": errors.NoConferenceName}

    participantName: Str31 | None = None  # type: ignore[assignment]  # ignored for ad_hoc participants
    address: Str63 | None = None
    addResponse: bool = False


class ModifyParticipantParams(ParticipantSettings, ParticipantIdentity):
    operationScope: Literal["activeState", "configuredState"] | None = None


class MoveParticipantParams(ParticipantIdentity):
    newConferenceName: Str31

    @field_validator("newConferenceName")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if value == "":
            raise errors.NoConferenceName
        return value


class ParticipantStatusParams(ParticipantIdentity):
    operationScope: Annotated[list[CurrentOrConfigured], Field(max_length=2)] | None = None


CONFERENCE_OPTION_MEMBERS: frozenset[str] = frozenset(ConferenceOptions.model_fields) - {
    "numericId",
    "guestNumericId",
    "conferenceID",
    "startTime",
    "durationSeconds",
    "endTime",
    "cleanupTimeout",
    "templateName",
    "templateNumber",
    "startLocked",
}
PARTICIPANT_OPTION_MEMBERS: frozenset[str] = frozenset(ParticipantSettings.model_fields)
