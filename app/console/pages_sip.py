"""SIP credentials pages: list (paging, exact realm search), add, edit, delete; passwords write-only.

Every change goes through ``SipCredentialService`` and the JSON API's own refusal mapping, so a page shows
exactly the error the API would answer.
"""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.admin.errors import AdminError
from app.console.common import PREFIX, SignedIn, admin_error_message, checked_form, page, peer_of, redirect, services
from app.console.sessions import Session
from app.sip_credentials.endpoints import MAX_ID, _refusals
from app.sip_credentials.service import Actor, CredentialView, SipCredentialService
from app.sip_credentials.validation import InvalidField, check_field

router = APIRouter(include_in_schema=False)
LIST_PATH: Final = f"{PREFIX}/sip-credentials/"
PAGE_SIZE: Final = 20
MAX_OFFSET: Final = 2**31 - 1


def _service(request: Request) -> SipCredentialService:
    return services(request).sip_credentials


def _list_link(realm: str | None, offset: int) -> str:
    params: dict[str, str | int] = {"offset": offset}
    if realm:
        params["realm"] = realm
    return f"{LIST_PATH}?{urlencode(params)}"


@router.get(LIST_PATH)
async def list_page(request: Request, session: SignedIn) -> Response:
    realm = request.query_params.get("realm") or None
    error = None
    try:
        offset = min(max(int(request.query_params.get("offset", "0")), 0), MAX_OFFSET)
    except ValueError:
        offset = 0
    items: list[CredentialView] = []
    total = 0
    if realm is not None:
        try:
            check_field("realm", realm)
        except InvalidField as exc:
            error = f"invalid value for realm: {exc.reason}"
    if error is None:
        found = await _service(request).list_page(realm=realm, limit=PAGE_SIZE, offset=offset)
        items, total = found.items, found.total
    return page(
        request,
        "sip_credentials.html",
        status=400 if error else 200,
        session=session,
        title="SIP credentials",
        nav="sip",
        items=items,
        total=total,
        realm=realm or "",
        error=error,
        first=offset + 1 if items else 0,
        last=offset + len(items),
        previous=_list_link(realm, max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        next=_list_link(realm, offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    )


def _form(
    request: Request,
    session: Session,
    *,
    credential_id: int | None,
    realm: str = "",
    username: str = "",
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "sip_credential_form.html",
        status=status,
        session=session,
        title="Edit SIP credential" if credential_id else "Add SIP credential",
        nav="sip",
        credential_id=credential_id,
        realm=realm,
        username=username,
        errors=errors or {},
        error=error,
    )


def _failed(
    request: Request, session: Session, exc: AdminError, credential_id: int | None, form: dict[str, str]
) -> Response:
    field, message = admin_error_message(exc.detail)
    shown = field if field in ("realm", "username", "password") else None
    return _form(
        request,
        session,
        credential_id=credential_id,
        realm=form.get("realm", ""),
        username=form.get("username", ""),
        errors={shown: message} if shown else {},
        error=None if shown else message,
        status=exc.status_code,
    )


@router.get(f"{LIST_PATH}new")
async def new_form(request: Request, session: SignedIn) -> Response:
    return _form(request, session, credential_id=None)


@router.post(f"{LIST_PATH}new")
async def create(request: Request, session: SignedIn) -> Response:
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    try:
        with _refusals():
            await _service(request).create(
                realm=form.get("realm", ""),
                username=form.get("username", ""),
                password=form.get("password", ""),
                actor=Actor(session.username, peer_of(request)),
            )
    except AdminError as exc:
        return _failed(request, session, exc, None, form)
    return redirect(f"{_list_link(form.get('realm'), 0)}&done=created")


CredentialId = Annotated[int, Path(alias="id", ge=1, le=MAX_ID)]


@router.get(f"{LIST_PATH}{{id}}/")
async def edit_form(request: Request, credential_id: CredentialId, session: SignedIn) -> Response:
    try:
        with _refusals():
            view = await _service(request).get(credential_id)
    except AdminError as exc:
        _field, message = admin_error_message(exc.detail)
        status = exc.status_code
        if status == 404:
            return page(request, "refused.html", status=404, session=session, title="Not found", message=message)
        return _form(request, session, credential_id=credential_id, error=message, status=status)
    return _form(request, session, credential_id=credential_id, realm=view.realm, username=view.username)


@router.post(f"{LIST_PATH}{{id}}/")
async def update(request: Request, credential_id: CredentialId, session: SignedIn) -> Response:
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    try:
        with _refusals():
            await _service(request).update(
                credential_id,
                actor=Actor(session.username, peer_of(request)),
                realm=form.get("realm", ""),
                username=form.get("username", ""),
                password=form.get("password") or None,
            )
    except AdminError as exc:
        return _failed(request, session, exc, credential_id, form)
    return redirect(f"{_list_link(form.get('realm'), 0)}&done=updated")


@router.post(f"{LIST_PATH}{{id}}/delete")
async def delete(request: Request, credential_id: CredentialId, session: SignedIn) -> Response:
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    try:
        with _refusals():
            await _service(request).delete(credential_id, actor=Actor(session.username, peer_of(request)))
    except AdminError as exc:
        _field, message = admin_error_message(exc.detail)
        return page(request, "refused.html", status=exc.status_code, session=session, title="Refused", message=message)
    return redirect(f"{LIST_PATH}?done=deleted")
