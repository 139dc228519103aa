"""``create_app(settings)``: the ASGI application one worker serves on both listeners."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from app.admin.global_settings import router as global_settings_router
from app.admin.openapi import use_admin_error_documentation
from app.calls.media import build_engine
from app.calls.owner import CallOwner
from app.conferences.calls import CallParticipants
from app.conferences.service import ConferenceService
from app.conferences.timers import Sweeper
from app.console.routes import router as console_router
from app.core.config import Settings
from app.core.state import AppServices
from app.device.system_xml import router as system_xml_router
from app.health import router as health_router
from app.metrics.endpoint import router as metrics_router
from app.metrics.instruments import publish_rpc_observations
from app.runtime_settings.pins import find_pins
from app.runtime_settings.service import RuntimeSettings
from app.security.credentials import CredentialChecker
from app.security.lockout import LOCKOUT_FILE, Lockout, LockoutPolicy
from app.sip_credentials.endpoints import router as sip_credentials_router
from app.sip_credentials.keyring import open_keyring
from app.sip_credentials.service import SipCredentialService
from app.sip_registration.endpoints import router as sip_registration_router
from app.sip_registration.hook import RegistrationHook
from app.sip_registration.reconciler import RegistrationCoordinator
from app.storage.database import Database
from app.version import SOFTWARE_VERSION
from app.xmlrpc.endpoint import install as install_xmlrpc

logger = logging.getLogger(__name__)

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def build_services(settings: Settings) -> AppServices:
    database = Database(settings.database_url)
    lockout = Lockout(settings.data_dir / LOCKOUT_FILE, LockoutPolicy.from_settings(settings.server))
    return AppServices(
        settings=settings,
        started_at=datetime.now(UTC),
        external_system=CredentialChecker("external_system", settings.external_system, lockout),
        admin=CredentialChecker("admin", settings.admin, lockout),
        database=database,
        sip_credentials=SipCredentialService(
            database, open_keyring(settings.data_dir, settings.secrets.encryption_key)
        ),
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, dict) else {"error": str(exc.detail)}
    return JSONResponse(detail, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return JSONResponse({"error": "malformed JSON body", "field": "body"}, status_code=400)
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    return JSONResponse({"error": f"invalid value for {field}", "field": field}, status_code=400)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        registration = RegistrationCoordinator(services.database, settings.sip, services.sip_credentials.credential_for)
        services.sip_registration = registration
        services.conferences = ConferenceService(
            services.database,
            max_conferences=settings.conferences.max_conferences,
            max_participants=settings.conferences.max_participants,
            hook=RegistrationHook(registration),
        )
        # the lease owner also holds the SIP socket for calls and the media engine, registrar or not
        registration.owned = CallOwner(build_engine(settings), CallParticipants(services.conferences))
        conference_timers = Sweeper(services.conferences)
        services.runtime = RuntimeSettings(settings, services.database, services.external_system, find_pins(settings))
        await services.runtime.load()
        app.state.services = services
        conference_timers.start()
        registration.start()
        services.runtime.start()
        try:
            yield
        finally:
            await services.runtime.stop()
            await registration.stop()
            await conference_timers.stop()
            await services.database.dispose()
            publish_rpc_observations()  # the last requests' counts, before this worker's files are final

    app = FastAPI(
        # FastAPI's native OpenTelemetry asks the OpenTelemetry API for configured providers on every request
        # (several environment look-ups each time, ~5 us). This service exports Prometheus metrics
        # (/metrics) and logs its own lines; it configures no OpenTelemetry, so that per-request check is off.
        telemetry=NO_OPENTELEMETRY,
        title="adhoc-bridge management API",
        version=SOFTWARE_VERSION,
        lifespan=lifespan,
        docs_url="/api/admin/docs",
        redoc_url=None,
        openapi_url="/api/admin/openapi.json",
    )
    use_admin_error_documentation(app)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    install_xmlrpc(app)  # first: CUCM's routes are matched before every management route
    app.include_router(health_router)
    app.include_router(system_xml_router)
    app.include_router(global_settings_router)
    app.include_router(sip_credentials_router)
    app.include_router(sip_registration_router)
    app.include_router(metrics_router)
    app.include_router(console_router)
    return app
