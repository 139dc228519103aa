"""``GET /api/admin/status/v1/registration/``: every alias the registration owner handles, from any worker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.admin.deps import ADMIN_DEPENDENCIES, ServicesDep
from app.admin.openapi import ADMIN_ERRORS
from app.sip_registration.schemas import RESOURCE_PATH, ListMeta, RegistrationList, out
from app.sip_registration.status_store import AliasStatus, StatusStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1

router = APIRouter(
    prefix=RESOURCE_PATH.rstrip("/"),
    tags=["registration status"],
    dependencies=ADMIN_DEPENDENCIES,
    responses=ADMIN_ERRORS,
)


def _link(limit: int, offset: int) -> str:
    return f"{RESOURCE_PATH}?limit={limit}&offset={offset}"


@router.get("/", response_model=RegistrationList, summary="SIP registration of conference aliases")
async def list_registrations(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description=f"Page size; 0 means {MAX_LIMIT}")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RegistrationList:
    """State, realm, algorithm, expiry and last error per alias. Empty when ``sip.registrar`` is unset."""
    limit = limit or MAX_LIMIT
    total: int = 0
    items: list[AliasStatus] = []
    if services.settings.sip.registrar is not None:
        total, items = await StatusStore(services.database).page(limit=limit, offset=offset)
    return RegistrationList(
        meta=ListMeta(
            limit=limit,
            offset=offset,
            next=_link(limit, offset + limit) if offset + limit < total else None,
            previous=_link(limit, max(0, offset - limit)) if offset > 0 else None,
            total_count=total,
        ),
        objects=[out(item) for item in items],
    )
