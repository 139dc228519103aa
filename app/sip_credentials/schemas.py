"""Request and response bodies of ``/api/admin/configuration/v1/sip_credential/`` (Pexip's field names).

Input and output are separate models: ``password`` exists only on input, as a write-only ``SecretStr``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StrictStr

from app.sip_credentials.service import CredentialView
from app.sip_credentials.validation import PASSWORD_MAX, REALM_MAX, USERNAME_MAX, check_field

RESOURCE_PATH = "/api/admin/configuration/v1/sip_credential/"
# What the documentation states about every field (validation.py enforces it, lone surrogates included).
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _rule(field: str) -> AfterValidator:
    return AfterValidator(lambda value: check_field(field, value))


def _check_password(value: SecretStr) -> SecretStr:
    check_field("password", value.get_secret_value())
    return value


Realm = Annotated[
    StrictStr,
    _rule("realm"),
    Field(
        description="Protection space of the challenging registrar or proxy; case sensitive, matched byte for byte.",
        json_schema_extra={"minLength": 1, "maxLength": REALM_MAX, "pattern": NO_CONTROL_CHARACTERS},
    ),
]
Username = Annotated[
    StrictStr,
    _rule("username"),
    Field(
        description="Username presented for the realm; case sensitive.",
        json_schema_extra={"minLength": 1, "maxLength": USERNAME_MAX, "pattern": NO_CONTROL_CHARACTERS},
    ),
]
Password = Annotated[
    SecretStr,
    AfterValidator(_check_password),
    Field(
        description="Write-only: stored encrypted, never returned.",
        json_schema_extra={
            "minLength": 1,
            "maxLength": PASSWORD_MAX,
            "pattern": NO_CONTROL_CHARACTERS,
            "writeOnly": True,
        },
    ),
]

# Unknown members (e.g. ``id`` and ``resource_uri`` of an object read back and PUT again) are ignored.
_INPUT = ConfigDict(extra="ignore", hide_input_in_errors=True)


class SipCredentialCreate(BaseModel):
    model_config = _INPUT

    realm: Realm
    username: Username
    password: Password


class SipCredentialReplace(BaseModel):
    """PUT: realm and username required; without ``password`` the stored one is kept."""

    model_config = _INPUT

    realm: Realm
    username: Username
    password: Password | None = None


class SipCredentialPatch(BaseModel):
    model_config = _INPUT

    realm: Realm | None = None
    username: Username | None = None
    password: Password | None = None


class SipCredentialOut(BaseModel):
    id: int
    realm: str
    username: str
    resource_uri: str


class ListMeta(BaseModel):
    limit: int
    offset: int
    next: str | None
    previous: str | None
    total_count: int


class SipCredentialList(BaseModel):
    meta: ListMeta
    objects: list[SipCredentialOut]


def resource_uri(credential_id: int) -> str:
    return f"{RESOURCE_PATH}{credential_id}/"


def out(view: CredentialView) -> SipCredentialOut:
    return SipCredentialOut(id=view.id, realm=view.realm, username=view.username, resource_uri=resource_uri(view.id))
