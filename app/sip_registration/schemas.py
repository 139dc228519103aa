"""Body of ``GET /api/admin/status/v1/registration/`` in Pexip's list shape ``{"meta": ..., "objects": [...]}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.sip_registration.status_store import AliasStatus

RESOURCE_PATH = "/api/admin/status/v1/registration/"

State = Literal["registering", "registered", "failed", "unregistered"]


class RegistrationOut(BaseModel):
    alias: str = Field(description="Registered address of record, sip:<numericId>@<domain>")
    numeric_id: str
    conference_name: str = Field(description="Conference the alias was registered for (empty if unknown)")
    state: State
    realm: str | None = Field(description="Realm of the digest challenge answered, if any")
    algorithm: str | None = Field(description="Digest algorithm used, if challenged")
    expires_at: datetime | None = Field(description="When the registrar drops the binding unless refreshed")
    last_status: int | None = Field(description="Status code of the registrar's last final response")
    last_error: str | None
    updated_at: datetime


class ListMeta(BaseModel):
    limit: int
    offset: int
    next: str | None
    previous: str | None
    total_count: int


class RegistrationList(BaseModel):
    meta: ListMeta
    objects: list[RegistrationOut]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def out(status: AliasStatus) -> RegistrationOut:
    state: State = status.state  # type: ignore[assignment]  # written only from RegistrationState values
    return RegistrationOut(
        alias=status.alias,
        numeric_id=status.numeric_id,
        conference_name=status.conference_name,
        state=state,
        realm=status.realm,
        algorithm=status.algorithm,
        expires_at=_utc(status.expires_at),
        last_status=status.last_status,
        last_error=status.last_error,
        updated_at=status.updated_at.replace(tzinfo=UTC),
    )
