"""What every console page shares: templates (autoescaped), form bodies, the signed-in session, CSRF, headers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.console.sessions import COOKIE, Session, SessionStore, same_token
from app.core.state import AppServices, services_of
from app.transport.listener import transport_of

logger = logging.getLogger("adhoc.console")

PREFIX: Final = "/admin"
SIGNIN_PATH: Final = f"{PREFIX}/signin"
_HERE = Path(__file__).parent
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Every page: nothing from elsewhere, no framing, nothing cached (pages show who is signed in).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_MAX_FORM_FIELDS: Final = 50
# Fixed notices a redirect may ask for (``?done=...``): nothing from the URL is echoed as text.
NOTICES: Final = {
    "saved": "Saved.",
    "unchanged": "Nothing changed.",
    "created": "SIP credential added.",
    "updated": "SIP credential saved.",
    "deleted": "SIP credential deleted.",
    "hungup": "Participant hung up.",
    "destroyed": "Conference ended and removed.",
}


def page(
    request: Request, template: str, *, status: int = 200, session: Session | None = None, **context: Any
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    html = _templates.get_template(template).render(
        user=session.username if session else None,
        csrf=session.csrf_token if session else None,
        notice=notice,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


def services(request: Request) -> AppServices:
    return services_of(request)


def peer_of(request: Request) -> str:
    return transport_of(request.scope).peer


def _admin_credentials(running: AppServices) -> bytes:
    admin = running.settings.admin
    secret = admin.password_hash or admin.password
    kind = "hash" if admin.password_hash else "password"
    value = secret.get_secret_value() if secret is not None else ""
    return "\0".join((admin.username, kind, value)).encode()


def session_store(request: Request) -> SessionStore:
    running = services(request)
    return SessionStore(running.database, _admin_credentials(running))


async def current_session(request: Request) -> Session | None:
    return await session_store(request).find(request.cookies.get(COOKIE))


async def signed_in(request: Request) -> Session:
    """The session, or a 303 to the sign-in page (the browser follows ``Location``)."""
    found = await current_session(request)
    if found is None:
        raise HTTPException(303, detail={"error": "sign in first"}, headers={"Location": SIGNIN_PATH})
    return found


SignedIn = Annotated[Session, Depends(signed_in)]


class FormError(Exception):
    """A form body the console cannot read: answered 400."""


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind the console's forms send)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise FormError("the form must be sent as application/x-www-form-urlencoded")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError("the form body is not readable") from None
    return dict(pairs)


def refused(request: Request, session: Session | None, message: str, status: int = 403) -> HTMLResponse:
    return page(request, "refused.html", status=status, session=session, title="Refused", message=message)


CSRF_REFUSAL: Final = (
    "This form did not come from a page of this console (its security token is missing or wrong, or your "
    "session changed). Reload the page and send it again."
)


async def checked_form(request: Request, session: Session) -> dict[str, str] | HTMLResponse:
    """The form of a signed-in POST, or the page refusing it (unreadable, or CSRF token missing/wrong)."""
    try:
        form = await form_of(request)
    except FormError as exc:
        return refused(request, session, str(exc), 400)
    if not same_token(session.csrf_token, form.get("csrf_token")):
        logger.warning(
            "console form refused: bad CSRF token", extra={"user": session.username, "peer": peer_of(request)}
        )
        return refused(request, session, CSRF_REFUSAL)
    return form


def admin_error_message(detail: Any) -> tuple[str | None, str]:
    """(field, readable message) of a JSON API error body ``{"error": ..., "field": ..., "reason": ...}``."""
    if not isinstance(detail, dict):
        return None, str(detail)
    field = detail.get("field")
    message = str(detail.get("error", "refused"))
    reason = detail.get("reason")
    if reason and str(reason) not in message:
        message = f"{message}: {reason}"
    return (str(field) if field else None), message


def _load_static() -> dict[str, tuple[bytes, str]]:
    types = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
    return {
        path.name: (path.read_bytes(), types[path.suffix])
        for path in (_HERE / "static").iterdir()
        if path.suffix in types
    }


STATIC: Final = _load_static()


def static_file(name: str) -> Response:
    found = STATIC.get(name)
    if found is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    body, media_type = found
    return Response(body, media_type=media_type, headers={**SECURITY_HEADERS, "Cache-Control": "max-age=300"})
