"""``/api/admin/configuration/v1/sip_credential/``: Pexip-compatible CRUD, admin Basic over HTTPS only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response

from app.admin.deps import ADMIN_DEPENDENCIES, AdminUser, ServicesDep
from app.admin.errors import AdminError
from app.admin.openapi import ADMIN_ERRORS, error_response
from app.sip_credentials.schemas import (
    RESOURCE_PATH,
    ListMeta,
    SipCredentialCreate,
    SipCredentialList,
    SipCredentialOut,
    SipCredentialPatch,
    SipCredentialReplace,
    out,
    resource_uri,
)
from app.sip_credentials.service import (
    Actor,
    CredentialNotFound,
    DuplicateRealm,
    PasswordUnreadable,
    SipCredentialService,
)
from app.sip_credentials.validation import REALM_MAX, InvalidField, check_field
from app.transport.listener import transport_of

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1
MAX_ID = 2**63 - 1


_COMMON_ERRORS = ADMIN_ERRORS
_ITEM_ERRORS: dict[int | str, dict[str, Any]] = {**_COMMON_ERRORS, 404: error_response("no credential with this id")}
_UNDECRYPTABLE = {**_ITEM_ERRORS, 409: error_response("stored password undecryptable")}
_PASSWORD_REQUIRED = {**_ITEM_ERRORS, 409: error_response("password required")}

router = APIRouter(
    prefix=RESOURCE_PATH.rstrip("/"),
    tags=["sip_credential"],
    dependencies=ADMIN_DEPENDENCIES,
    responses=_COMMON_ERRORS,
)

CredentialId = Annotated[int, Path(alias="id", ge=1, le=MAX_ID, description="Credential id")]


def _service(services: ServicesDep) -> SipCredentialService:
    service: SipCredentialService = services.sip_credentials
    return service


def _actor(request: Request, user: str) -> Actor:
    return Actor(user, transport_of(request.scope).peer)


def _page_link(limit: int, offset: int, realm: str | None) -> str:
    params: dict[str, str | int] = {"limit": limit, "offset": offset}
    if realm is not None:
        params["realm"] = realm
    return f"{RESOURCE_PATH}?{urlencode(params)}"


@contextmanager
def _refusals() -> Iterator[None]:
    """Maps the service's refusals to JSON errors."""
    try:
        yield
    except CredentialNotFound:
        raise AdminError(404, "no such sip credential") from None
    except DuplicateRealm:
        raise AdminError(400, "a sip credential for this realm already exists", field="realm") from None
    except InvalidField as exc:
        raise AdminError(400, f"invalid value for {exc.field}", field=exc.field, reason=exc.reason) from None
    except PasswordUnreadable as exc:
        raise AdminError(
            409,
            "the stored password of this credential cannot be decrypted (moved or tampered row, or lost key); "
            "set a new password",
            field="password",
            id=exc.credential_id,
        ) from None


@router.get("/", response_model=SipCredentialList)
async def list_credentials(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description=f"Page size; 0 means {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    realm: Annotated[str | None, Query(max_length=REALM_MAX, description="Exact, case-sensitive match")] = None,
) -> SipCredentialList:
    effective = limit or MAX_LIMIT
    if realm is not None:
        with _refusals():
            check_field("realm", realm)
    page = await _service(services).list_page(realm=realm, limit=effective, offset=offset)
    more = offset + effective < page.total
    meta = ListMeta(
        limit=effective,
        offset=offset,
        next=_page_link(effective, offset + effective, realm) if more else None,
        previous=_page_link(effective, max(offset - effective, 0), realm) if offset > 0 else None,
        total_count=page.total,
    )
    return SipCredentialList(meta=meta, objects=[out(view) for view in page.items])


@router.post(
    "/",
    status_code=201,
    response_model=SipCredentialOut,
    responses={201: {"headers": {"Location": {"schema": {"type": "string"}}}}},
)
async def create_credential(
    body: SipCredentialCreate, request: Request, response: Response, services: ServicesDep, user: AdminUser
) -> SipCredentialOut:
    with _refusals():
        view = await _service(services).create(
            realm=body.realm,
            username=body.username,
            password=body.password.get_secret_value(),
            actor=_actor(request, user),
        )
    response.headers["Location"] = str(request.base_url).rstrip("/") + resource_uri(view.id)
    return out(view)


@router.get(
    "/{id}/",
    response_model=SipCredentialOut,
    responses=_UNDECRYPTABLE,
)
async def get_credential(credential_id: CredentialId, services: ServicesDep) -> SipCredentialOut:
    with _refusals():
        return out(await _service(services).get(credential_id))


@router.put("/{id}/", response_model=SipCredentialOut, responses=_PASSWORD_REQUIRED)
async def replace_credential(
    credential_id: CredentialId, body: SipCredentialReplace, request: Request, services: ServicesDep, user: AdminUser
) -> SipCredentialOut:
    password = body.password.get_secret_value() if body.password is not None else None
    with _refusals():
        view = await _service(services).update(
            credential_id, actor=_actor(request, user), realm=body.realm, username=body.username, password=password
        )
    return out(view)


@router.patch("/{id}/", response_model=SipCredentialOut, responses=_PASSWORD_REQUIRED)
async def patch_credential(
    credential_id: CredentialId, body: SipCredentialPatch, request: Request, services: ServicesDep, user: AdminUser
) -> SipCredentialOut:
    for field in ("realm", "username"):
        if field in body.model_fields_set and getattr(body, field) is None:
            raise AdminError(400, f"invalid value for {field}", field=field, reason="must not be null")
    password = body.password.get_secret_value() if body.password is not None else None
    with _refusals():
        view = await _service(services).update(
            credential_id, actor=_actor(request, user), realm=body.realm, username=body.username, password=password
        )
    return out(view)


@router.delete("/{id}/", status_code=204, response_class=Response, responses=_ITEM_ERRORS)
async def delete_credential(
    credential_id: CredentialId, request: Request, services: ServicesDep, user: AdminUser
) -> Response:
    with _refusals():
        await _service(services).delete(credential_id, actor=_actor(request, user))
    return Response(status_code=204)
