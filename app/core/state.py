"""What a running worker holds: settings and the services built from them in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from app.conferences.service import ConferenceService
from app.core.config import Settings
from app.runtime_settings.service import RuntimeSettings
from app.security.credentials import CredentialChecker
from app.sip_credentials.service import SipCredentialService
from app.sip_registration.reconciler import RegistrationCoordinator
from app.storage.database import Database


@dataclass
class AppServices:
    settings: Settings
    started_at: datetime
    external_system: CredentialChecker
    admin: CredentialChecker
    database: Database
    sip_credentials: SipCredentialService
    conferences: ConferenceService | None = None
    sip_registration: RegistrationCoordinator | None = None
    runtime: RuntimeSettings | None = None

    @property
    def external_http_access(self) -> bool:
        """``external_system.enable_http_access`` as it is now (run-time settings included)."""
        if self.runtime is not None:
            return self.runtime.enable_http_access
        return self.settings.external_system.enable_http_access


def services_of(request: Request) -> AppServices:
    services: AppServices = request.app.state.services
    return services
