"""Sign-in (admin credentials, through the admin ``CredentialChecker``) and sign-out."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.console.common import (
    CSRF_REFUSAL,
    PREFIX,
    SIGNIN_PATH,
    FormError,
    checked_form,
    current_session,
    form_of,
    page,
    peer_of,
    redirect,
    refused,
    services,
    session_store,
)
from app.console.sessions import COOKIE, LIFETIME, SIGNIN_COOKIE, same_token
from app.metrics.instruments import auth_failed
from app.security.lockout import Lockout

logger = logging.getLogger("adhoc.auth")
router = APIRouter(include_in_schema=False)
HOME = f"{PREFIX}/global/"
_SIGNIN_COOKIE_SECONDS = 3600


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict")


def _signin_page(request: Request, *, username: str = "", error: str | None = None, status: int = 200) -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or ""
    if not 20 <= len(token) <= 100:
        token = secrets.token_urlsafe(32)
    response = page(
        request, "signin.html", status=status, title="Sign in", signin_token=token, username=username, error=error
    )
    _cookie(response, SIGNIN_COOKIE, token, _SIGNIN_COOKIE_SECONDS)
    return response


@router.get(PREFIX)
async def console_root_bare() -> Response:
    return redirect(f"{PREFIX}/")


@router.get(f"{PREFIX}/")
async def console_root(request: Request) -> Response:
    return redirect(HOME if await current_session(request) else SIGNIN_PATH)


LOCKED_OUT = "Too many failed sign-ins from this address: wait a few minutes and try again."


@router.get(SIGNIN_PATH)
async def signin_form(request: Request) -> Response:
    if await current_session(request):
        return redirect(HOME)
    return _signin_page(request)


@router.post(SIGNIN_PATH)
async def signin(request: Request) -> Response:
    try:
        form = await form_of(request)
    except FormError as exc:
        return refused(request, None, str(exc), 400)
    expected = request.cookies.get(SIGNIN_COOKIE)
    if expected is None or not same_token(expected, form.get("csrf_token")):
        return refused(request, None, CSRF_REFUSAL)
    username, password = form.get("username", ""), form.get("password", "")
    if not username or not password:
        return _signin_page(request, username=username, error="Enter the admin username and password.", status=400)
    checker = services(request).admin
    peer = peer_of(request)
    if not checker.configured:
        message = "No admin password is configured (set ADHOC_ADMIN__PASSWORD_HASH), so nobody can sign in."
        return _signin_page(request, username=username, error=message, status=401)
    locked_for = checker.retry_after(peer)
    if locked_for is not None:  # too many failures from this address: refused before any hash
        response = _signin_page(request, username=username, error=LOCKED_OUT, status=429)
        response.headers["Retry-After"] = Lockout.retry_after_header(locked_for)
        return response
    if not await checker.check(username, password, peer):
        auth_failed("admin", "console")
        logger.warning("admin authentication failed", extra={"user": username, "peer": peer, "carrier": "console"})
        return _signin_page(request, username=username, error="Wrong username or password.", status=401)
    token = await session_store(request).create(username, peer)
    logger.info("console sign-in", extra={"user": username, "peer": peer})
    response = redirect(HOME)
    _cookie(response, COOKIE, token, int(LIFETIME.total_seconds()))
    response.delete_cookie(SIGNIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.post(f"{PREFIX}/signout")
async def signout(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return redirect(SIGNIN_PATH)
    form = await checked_form(request, session)
    if not isinstance(form, dict):
        return form
    await session_store(request).end(session)
    logger.info("console sign-out", extra={"user": session.username, "peer": peer_of(request)})
    response = redirect(SIGNIN_PATH)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response
