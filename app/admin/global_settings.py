"""``GET /api/admin/configuration/v1/global/``: effective settings in Pexip's field names, no secrets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.admin.deps import ADMIN_DEPENDENCIES, ServicesDep
from app.admin.openapi import ADMIN_ERRORS

router = APIRouter(
    prefix="/api/admin/configuration/v1",
    tags=["configuration"],
    dependencies=ADMIN_DEPENDENCIES,
    responses=ADMIN_ERRORS,
)


@router.get("/global/")
async def global_settings(services: ServicesDep) -> dict[str, Any]:
    settings = services.settings
    return {
        "id": 1,
        "resource_uri": "/api/admin/configuration/v1/global/1/",
        "legacy_api_username": settings.external_system.username,
        "legacy_api_http": settings.external_system.enable_http_access,
        "legacy_api_password_configured": settings.external_system.configured,
        "admin_username": settings.admin.username,
        "https_port": settings.server.https_port,
        "http_port": settings.server.http_port,
        "workers": settings.server.workers,
        "trusted_proxies": [str(network) for network in settings.server.trusted_proxies],
        "max_conferences": settings.conferences.max_conferences,
        "max_participants_per_conference": settings.conferences.max_participants,
        "sip_registrar": settings.sip.registrar,
    }
