"""``/api/admin/configuration/v1/global/``: effective settings in Pexip's field names (no secrets), and
``PATCH`` of the run-time ones: ``legacy_api_username``, ``legacy_api_password`` (write-only),
``legacy_api_http``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from app.admin.deps import ADMIN_DEPENDENCIES, AdminUser, ServicesDep
from app.admin.errors import AdminError
from app.admin.openapi import ADMIN_ERRORS, error_response
from app.core.state import AppServices
from app.runtime_settings.service import Actor, RuntimeSettings, SettingPinned
from app.runtime_settings.validation import WRITABLE, InvalidSetting
from app.transport.listener import transport_of

router = APIRouter(
    prefix="/api/admin/configuration/v1",
    tags=["configuration"],
    dependencies=ADMIN_DEPENDENCIES,
    responses=ADMIN_ERRORS,
)

_PATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    409: error_response("the field is pinned by the environment or settings.toml (the body names what pins it)"),
}
_PATCH_EXAMPLE = {"legacy_api_username": "cucm", "legacy_api_password": "new secret", "legacy_api_http": False}


def runtime_of(services: AppServices) -> RuntimeSettings:
    runtime = services.runtime
    if runtime is None:  # pragma: no cover - set by the lifespan before any request
        raise AdminError(503, "run-time settings are not loaded yet")
    return runtime


def global_view(services: AppServices) -> dict[str, Any]:
    settings = services.settings
    runtime = runtime_of(services)
    return {
        "id": 1,
        "resource_uri": "/api/admin/configuration/v1/global/1/",
        **runtime.view(),
        **{f"{field}_pinned_by": runtime.pins.get(field) for field in WRITABLE},
        "admin_username": settings.admin.username,
        "https_port": settings.server.https_port,
        "http_port": settings.server.http_port,
        "workers": settings.server.workers,
        "trusted_proxies": [str(network) for network in settings.server.trusted_proxies],
        "max_conferences": settings.conferences.max_conferences,
        "max_participants_per_conference": settings.conferences.max_participants,
        "sip_registrar": settings.sip.registrar,
    }


@router.get("/global/")
async def global_settings(services: ServicesDep) -> dict[str, Any]:
    """``<field>_pinned_by`` names the environment variable or settings.toml key that pins a field (else null)."""
    return global_view(services)


def changes_of(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The writable members of ``body``. Read-only members are accepted only unchanged (a GET body sent back)."""
    for field, value in body.items():
        if field in WRITABLE:
            continue
        if field not in current:
            raise AdminError(400, f"unknown field {field}", field=field)
        if value != current[field]:
            reason = "is read-only here (set it in settings.toml or the environment)"
            raise AdminError(400, f"{field} {reason}", field=field, reason=reason)
    return {field: body[field] for field in WRITABLE if field in body}


async def apply_changes(services: AppServices, changes: dict[str, Any], actor: Actor) -> list[str]:
    """Store ``changes``; AdminError 400 (bad value) or 409 (pinned) naming the field."""
    try:
        return await runtime_of(services).change(changes, actor)
    except InvalidSetting as exc:
        message = f"invalid value for {exc.field}: {exc.reason}"
        raise AdminError(400, message, field=exc.field, reason=exc.reason) from None
    except SettingPinned as exc:
        raise AdminError(
            409,
            f"{exc.field} is pinned by {exc.pinned_by}; change it there (and restart) or remove it to set it here",
            field=exc.field,
            pinned_by=exc.pinned_by,
        ) from None


@router.patch("/global/", responses=_PATCH_ERRORS)
async def patch_global_settings(
    body: Annotated[dict[str, Any], Body(examples=[_PATCH_EXAMPLE])],
    request: Request,
    services: ServicesDep,
    user: AdminUser,
) -> dict[str, Any]:
    """Change the run-time settings; every worker and instance uses them within 2 s. ``null`` unsets a field.

    ``legacy_api_password`` is stored as an argon2 hash and never returned. Other members of the GET body may
    be sent back unchanged. One audit log line per change (who, from where, which keys).
    """
    changes = changes_of(body, global_view(services))
    await apply_changes(services, changes, Actor(user, transport_of(request.scope).peer, "api"))
    return global_view(services)
