"""``python -m app sip-options <sip-uri>``: OPTIONS with the stored SIP credentials; exit 0 on 2xx, else 1.

It binds its own ephemeral SIP port (``sip.local_port`` is ignored) so it can run next to the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.cli.settings_loader import settings_or_exit
from app.core.logging import configure_logging
from app.sip.digest import CredentialLookup
from app.sip.options import run_options_cli
from app.sip_credentials.cli import prepare_keyring
from app.sip_credentials.keyring import Keyring
from app.sip_credentials.service import SipCredentialService
from app.storage.database import Database


def _lookup(url: str, keyring: Keyring) -> CredentialLookup:
    async def credential_for(realm: str) -> tuple[str, str] | None:
        # One engine per challenge, created and disposed inside the probe's event loop.
        database = Database(url)
        try:
            return await SipCredentialService(database, keyring).credential_for(realm)
        finally:
            await database.dispose()

    return credential_for


def sip_options_command(args: argparse.Namespace) -> int:
    from app.storage.migrate import upgrade

    settings = settings_or_exit()
    configure_logging(settings.log)
    upgrade(settings.database_url)
    keyring = prepare_keyring(settings)
    sip = settings.sip.model_copy(update={"local_port": 0})
    return run_options_cli([args.uri], sip, _lookup(settings.database_url, keyring))


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    parser = subparsers.add_parser(
        "sip-options",
        help="send SIP OPTIONS to a URI, answering digest challenges with the stored credentials",
        description="Send SIP OPTIONS; print the final status line, the realm and the digest algorithm used. "
        "Exit status 0 on a 2xx answer, 1 otherwise, 2 on a configuration error.",
    )
    parser.add_argument("uri", help="target SIP URI, e.g. sip:registrar.example.com;transport=udp")
    return {"sip-options": sip_options_command}
