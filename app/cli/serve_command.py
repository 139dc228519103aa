"""``serve``: run the service (the default command)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from app.cli.preflight import check_start_up
from app.cli.settings_loader import settings_or_exit
from app.core.config import Settings
from app.core.logging import configure_logging

logger = logging.getLogger("adhoc.serve")


def warn_about_missing_credentials(settings: Settings) -> None:
    if not settings.external_system.configured:
        logger.warning(
            "no external-system password is configured: every CUCM request will be refused. "
            "Set external_system.password_hash in settings.toml (make one with `python -m app hash-password`) "
            "or ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH, and external_system.username."
        )
    if not settings.admin.configured:
        logger.warning(
            "no admin password is configured: the management API will refuse every request. "
            "Set admin.password_hash or ADHOC_ADMIN__PASSWORD_HASH."
        )


def run(_args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    check_start_up(settings)  # before any import of the metric instruments: it sets their directory
    configure_logging(settings.log)
    warn_about_missing_credentials(settings)
    from app.sip_credentials.cli import prepare_keyring
    from app.storage.migrate import upgrade
    from app.transport.server import serve

    def before_serving() -> None:
        upgrade(settings.database_url)
        prepare_keyring(settings)  # generate the SIP credential keyring once, before workers fork

    return serve(settings, before_serving=before_serving)


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    subparsers.add_parser("serve", help="run the service (default)")
    return {"serve": run}
