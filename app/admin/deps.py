"""Dependencies of the management API: HTTP Basic against ``admin.*`` only (never the external system's)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request

from app.admin.errors import AdminError
from app.core.state import AppServices, services_of
from app.metrics.instruments import auth_failed
from app.security.basic import MalformedBasicHeader, parse_basic
from app.security.lockout import Lockout
from app.transport.listener import transport_of

logger = logging.getLogger("adhoc.auth")

ADMIN_CHALLENGE = {"WWW-Authenticate": 'Basic realm="adhoc-bridge management"'}

ServicesDep = Annotated[AppServices, Depends(services_of)]


async def admin_user(request: Request, services: ServicesDep) -> str:
    peer = transport_of(request.scope).peer
    try:
        credentials = parse_basic(request.headers.get("authorization"))
    except MalformedBasicHeader:
        credentials = None
    if credentials is None:
        auth_failed("admin", "none" if request.headers.get("authorization") is None else "basic")
        raise AdminError(401, "authentication required", headers=ADMIN_CHALLENGE)
    locked_for = services.admin.retry_after(peer)
    if locked_for is not None:  # too many failures from this source: refused before any hash
        retry = Lockout.retry_after_header(locked_for)
        raise AdminError(429, "too many failed authentications", headers={"Retry-After": retry})
    if not await services.admin.check(credentials.username, credentials.password, peer):
        auth_failed("admin", "basic")
        logger.warning("admin authentication failed", extra={"user": credentials.username, "peer": peer})
        raise AdminError(401, "invalid credentials", headers=ADMIN_CHALLENGE)
    return credentials.username


AdminUser = Annotated[str, Depends(admin_user)]
# Routers of /api/admin/... declare these. Plain HTTP never reaches them: see transport/https_only.py.
ADMIN_DEPENDENCIES = [Depends(admin_user)]
