"""The Global settings page: the three run-time fields, pinned ones read-only with what pins them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.admin.errors import AdminError
from app.admin.global_settings import apply_changes, runtime_of
from app.console.common import PREFIX, SignedIn, admin_error_message, checked_form, page, peer_of, redirect, services
from app.console.sessions import Session
from app.runtime_settings.service import Actor

router = APIRouter(include_in_schema=False)
PATH = f"{PREFIX}/global/"


def _render(
    request: Request,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    runtime = runtime_of(services(request))
    current = {"legacy_api_username": runtime.username, "legacy_api_http": runtime.enable_http_access}
    return page(
        request,
        "global.html",
        status=status,
        session=session,
        title="Global settings",
        nav="global",
        values={**current, **(values or {})},
        password_configured=runtime.password_configured,
        pins=runtime.pins,
        errors=errors or {},
        error=error,
    )


@router.get(PATH)
async def global_page(request: Request, session: SignedIn) -> Response:
    return _render(request, session)


@router.post(PATH)
async def save_global(request: Request, session: SignedIn) -> Response:
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    runtime = runtime_of(services(request))
    changes: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    if "legacy_api_username" in form:
        typed["legacy_api_username"] = form["legacy_api_username"]
        if form["legacy_api_username"] != runtime.username:
            changes["legacy_api_username"] = form["legacy_api_username"]
    if form.get("legacy_api_password"):
        changes["legacy_api_password"] = form["legacy_api_password"]
    if form.get("legacy_api_password_unset") == "on":
        changes["legacy_api_password"] = None
    if "legacy_api_http_shown" in form or "legacy_api_http" in form:
        typed["legacy_api_http"] = form.get("legacy_api_http") == "on"
        if typed["legacy_api_http"] != runtime.enable_http_access:
            changes["legacy_api_http"] = typed["legacy_api_http"]
    if not changes:
        return redirect(f"{PATH}?done=unchanged")
    try:
        await apply_changes(services(request), changes, Actor(session.username, peer_of(request), "console"))
    except AdminError as exc:
        field, message = admin_error_message(exc.detail)
        errors = {field: message} if field else {}
        return _render(
            request, session, values=typed, errors=errors, error=None if field else message, status=exc.status_code
        )
    return redirect(f"{PATH}?done=saved")
