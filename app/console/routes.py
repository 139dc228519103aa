"""The console's router: every page plus its two static files, all under ``/admin/`` (HTTPS only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.console import pages_auth, pages_live, pages_settings, pages_sip
from app.console.common import PREFIX, static_file

router = APIRouter(include_in_schema=False)
for part in (pages_auth, pages_settings, pages_sip, pages_live):
    router.include_router(part.router)


@router.get(PREFIX + "/static/{name}")
async def static(name: str) -> Response:
    return static_file(name)
