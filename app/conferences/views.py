"""Reply structs: a conference's status struct and a participant struct, with the 2.9 member names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.conferences.models import ConferenceData, Participant

# Defaults an MCU reports for members never set (control plane only: no media behind them).
CONFERENCE_DEFAULTS: dict[str, Any] = {
    "description": "",
    "pin": "",
    "guestPin": "",
    "registerWithGatekeeper": False,
    "registerWithSIPRegistrar": False,
    "multicastStreamingEnabled": False,
    "unicastStreamingEnabled": False,
    "conferenceMeEnabled": False,
    "contentMode": "transcoded",
    "contentImportant": False,
    "contentTxCodec": "automatic",
    "contentTxMinimumBitRate": "0",
    "lastChairmanLeavesDisconnect": False,
    "preconfiguredParticipantsDefer": False,
    "private": False,
    "joinAudioMuted": False,
    "joinVideoMuted": False,
    "customLayoutEnabled": False,
    "chairControl": "none",
    "suppressDtmfEx": "never",
    "layoutControlEx": "feccWithDtmfFallback",
    "inCallMenuControlChair": "local",
    "inCallMenuControlGuest": "local",
    "automaticLectureMode": "disabled",
    "encryptionRequired": False,
    "contentContribution": True,
    "reservedAudioPorts": 0,
    "reservedVideoPorts": 0,
}
# Returned only when explicitly configured ("may not be returned in responses unless ...").
CONFERENCE_IF_SET = (
    "maximumAudioPorts",
    "maximumVideoPorts",
    "customLayout",
    "cameraControl",
    "automaticLectureModeTimeout",
    "contentTransmitResolutions",
    "newParticipantsCustomLayout",
)
SCHEDULE_MEMBERS = ("weekDay", "whichWeek", "weekDays", "terminationType", "numberOfRepeats")
DATETIME_OPTIONS = frozenset({"terminationDate"})
ACTIVE_CALL_STATES = frozenset({"connected", "alerting", "connecting"})  # connecting: a SIP call being set up


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def option_value(name: str, value: Any) -> Any:
    if name in DATETIME_OPTIONS and isinstance(value, str):
        return whole_seconds(datetime.fromisoformat(value))
    return value


def conference_is_completed(conference: ConferenceData, now: datetime) -> bool:
    if conference.ended_at is not None:
        return True
    return conference.end_time is not None and conference.end_time <= now


def conference_is_active(conference: ConferenceData, now: datetime) -> bool:
    return conference.start_time <= now and not conference_is_completed(conference, now)


def conference_struct(conference: ConferenceData, now: datetime) -> dict[str, Any]:
    options = conference.options
    active = conference_is_active(conference, now)
    struct: dict[str, Any] = {
        "conferenceName": conference.name,
        "conferenceType": "scheduled",
        "uniqueId": conference.id,
        "conferenceActive": active,
        "numericId": conference.numeric_id or "",
        "guestNumericId": conference.guest_numeric_id or "",
        "locked": conference.locked,
        "floorStatus": "inactive",
    }
    for member, default in CONFERENCE_DEFAULTS.items():
        struct[member] = options.get(member, default)
    struct["h239Enabled"] = struct["contentMode"] != "disabled"
    struct["h239Important"] = struct["contentImportant"]
    if "h239Enabled" in options:  # deprecated by contentMode: a client that set it reads back its value
        struct["h239Enabled"] = options["h239Enabled"]
    if "h239Important" in options:
        struct["h239Important"] = options["h239Important"]
    for member in CONFERENCE_IF_SET:
        if member in options:
            struct[member] = options[member]
    # Scheduled-conference members (every API conference is "scheduled" on an MCU).
    struct["startTime"] = whole_seconds(conference.start_time)
    struct["durationSeconds"] = conference.duration_seconds
    struct["repetition"] = options.get("repetition", "none")
    for member in SCHEDULE_MEMBERS:
        if member in options:
            struct[member] = options[member]
    if "terminationDate" in options:
        struct["terminationDate"] = option_value("terminationDate", options["terminationDate"])
    # Every other setting conference.create/modify accepted is read back as set, with its type.
    struct["cleanupTimeout"] = conference.cleanup_timeout
    if conference.end_time is not None:
        struct["endTime"] = whole_seconds(conference.end_time)
    if "conferenceID" in options:
        struct["conferenceID"] = conference.numeric_id or ""
    for member, value in options.items():
        if member not in struct:
            struct[member] = option_value(member, value)
    if active:
        struct["activeStartTime"] = whole_seconds(conference.start_time)
        if conference.end_time is not None:
            struct["activeEndTime"] = whole_seconds(conference.end_time)
        struct["activeConferenceId"] = f"{conference.id}.{conference.active_instance}"
    return struct


def conference_unchanged(conference: ConferenceData) -> dict[str, Any]:
    return {"conferenceName": conference.name, "uniqueId": conference.id, "changed": False}


def participant_identity(participant: Participant, conference_name: str) -> dict[str, Any]:
    return {
        "participantName": participant.name,
        "participantProtocol": participant.protocol,
        "participantType": participant.participant_type,
        "conferenceName": conference_name,
    }


def current_state(participant: Participant, conference: ConferenceData, now: datetime) -> dict[str, Any]:
    options = participant.options
    override = bool(options.get("displayNameOverrideStatus", False))
    state: dict[str, Any] = {
        "address": participant.address,
        "displayName": (options.get("displayNameOverrideValue") if override else None)
        or options.get("displayName")
        or participant.name,
        "guest": bool(options.get("addAsGuest", False)),
        "displayNameOverrideStatus": override,
        "callState": participant.call_state,
        "connectPending": participant.call_state in ("dormant", "disconnected"),
        "audioRxMuted": bool(options.get("audioRxMuted", False)),
        "videoRxMuted": bool(options.get("videoRxMuted", False)),
        "audioTxMuted": False,
        "videoTxWidescreen": bool(options.get("videoTxWidescreen", False)),
        "autoDisconnect": bool(options.get("autoDisconnect", False)),
        "callDirection": options.get("callDirection", "outgoing"),
        "layoutControlEx": options.get("layoutControlEx", "feccWithDtmfFallback"),
        "motionSharpnessTradeoff": options.get("motionSharpnessTradeoff", "default"),
        "maxBitRateToMCU": int(options.get("maxBitRateToMCU", 0)),
        "maxBitRateFromMCU": int(options.get("maxBitRateFromMCU", 0)),
    }
    if participant.connect_time is not None:
        state["connectTime"] = whole_seconds(participant.connect_time)
    if participant.call_state == "disconnected":
        if participant.disconnect_time is not None:
            state["disconnectTime"] = whole_seconds(participant.disconnect_time)
        state["disconnectReason"] = participant.disconnect_reason or "localTeardown"
    if participant.call_state in ACTIVE_CALL_STATES and conference_is_active(conference, now):
        state["activeConferenceId"] = f"{conference.id}.{conference.active_instance}"
    return state


def configured_state(participant: Participant) -> dict[str, Any]:
    if participant.participant_type == "ad_hoc":
        return {}  # "If the endpoint is not pre-configured, the configuredState structure is empty"
    state: dict[str, Any] = {"address": participant.address}
    state.update(participant.options)
    return state


def participant_struct(
    participant: Participant, conference: ConferenceData, now: datetime, scope: frozenset[str]
) -> dict[str, Any]:
    struct = participant_identity(participant, conference.name)
    struct["connectionUniqueId"] = conference.id
    if "currentState" in scope:
        struct["currentState"] = current_state(participant, conference, now)
    if "configuredState" in scope:
        struct["configuredState"] = configured_state(participant)
    return struct


# Packet counters of the deprecated participant struct: Janus mixes the audio and reports no per-participant
# counts to us, so they are sent as 0.
MEDIA_COUNTERS = (
    "audioRxLost",
    "audioRxReceived",
    "audioTxReportedLost",
    "audioTxSent",
    "videoRxLost",
    "videoRxReceived",
    "videoTxReportedLost",
    "videoTxSent",
)


def deprecated_participant_struct(
    participant: Participant, conference: ConferenceData, now: datetime
) -> dict[str, Any]:
    """participant.status/enumerate without ``operationScope`` (guide pp. 85-88, 106): the deprecated flat
    members (``callState``, ``displayName``, counters...) at the top level, plus both 2.9 sub-structs."""
    options = participant.options
    struct = participant_identity(participant, conference.name)
    struct["connectionUniqueId"] = conference.id
    state = current_state(participant, conference, now)
    # The 2.9 structs as well, for clients written against the operationScope form.
    struct["currentState"] = dict(state)
    struct["configuredState"] = configured_state(participant)
    state.pop("activeConferenceId", None)
    struct.update(state)
    struct["gatewayAddress"] = str(options.get("gatewayAddress", ""))
    struct["deferConnection"] = bool(options.get("deferConnection", False))
    struct["audioRxGainMode"] = str(options.get("audioRxGainMode", "none"))
    struct["audioRxGainMillidB"] = int(options.get("audioRxGainMillidB", 0))
    struct["cpLayout"] = str(options.get("cpLayout", "default"))
    struct["important"] = False
    struct["activeSpeaker"] = False
    struct["layoutControlEnabled"] = struct["layoutControlEx"] != "disabled"
    struct["currentLayout"] = 0
    for counter in MEDIA_COUNTERS:
        struct[counter] = 0
    return struct
