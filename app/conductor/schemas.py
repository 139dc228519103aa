"""Parameter structs of the Conductor's ``factory.*`` methods (names and types as Conductor clients send)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from app.xmlrpc.dispatcher import RpcParams
from app.xmlrpc.faults import FaultCode, McuFault

Str31 = Annotated[str, StringConstraints(max_length=31)]
# Minutes whose seconds still fit the 32-bit durationSeconds that conference.status reports.
Minutes = Annotated[int, Field(ge=0, le=(2**31 - 1) // 60)]
ALIAS = "conferenceAlias"


class FactoryConferenceCreateParams(RpcParams):
    """``factory.conferencecreate``: a missing or empty ``conferenceAlias`` is fault 21."""

    conferenceAlias: Str31
    factoryMinDurationMinutes: Minutes = 0  # 0: no limit
    factoryMaxDurationMinutes: Minutes = 0  # 0: no limit
    factoryOverridePIN: Str31 = ""
    factoryOverrideGuestPIN: Str31 = ""

    @model_validator(mode="before")
    @classmethod
    def _alias_present(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get(ALIAS, "") == "":
            raise McuFault(FaultCode.NO_CONFERENCE_ALIAS)
        return data

    @field_validator("factoryOverridePIN", "factoryOverrideGuestPIN")
    @classmethod
    def _digits(cls, value: str) -> str:
        if value and not (value.isascii() and value.isdigit()):
            raise McuFault(FaultCode.INVALID_PIN)
        return value

    @model_validator(mode="after")
    def _min_within_max(self) -> FactoryConferenceCreateParams:
        low, high = self.factoryMinDurationMinutes, self.factoryMaxDurationMinutes
        if low and high and low > high:
            raise McuFault(FaultCode.MISMATCHED_PARAMETERS, "factoryMinDurationMinutes")
        return self

    @property
    def numeric_id(self) -> str | None:
        """The alias without its ``@host``, when that is a numeric ID (digits)."""
        local = self.conferenceAlias.split("@", 1)[0]
        return local if local.isascii() and local.isdigit() else None


class NoParams(RpcParams):
    pass
