"""``python -m app sip-credential list|add|set-password|delete`` and ``python -m app rotate-key``.

They work on the service's database directly (migrating it first), with the API's validation and audit.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from app.cli.settings_loader import ConfigError, settings_or_exit
from app.core.config import Settings
from app.core.logging import configure_logging
from app.sip_credentials.keyring import Keyring, KeyringError, open_keyring
from app.sip_credentials.rotation import rotate
from app.sip_credentials.service import (
    Actor,
    CredentialNotFound,
    DuplicateRealm,
    PasswordUnreadable,
    SipCredentialService,
)
from app.sip_credentials.validation import InvalidField
from app.storage.database import Database

EXIT_REFUSED = 1


def _say(*parts: str, file: Any = None) -> None:
    (file or sys.stdout).write(" ".join(parts) + "\n")


def prepare_keyring(settings: Settings) -> Keyring:
    """Create or load the keyring; a problem is a configuration error (exit status 2)."""
    try:
        return open_keyring(settings.data_dir, settings.secrets.encryption_key)
    except KeyringError as exc:
        raise ConfigError(str(exc)) from None


def _cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", "local")


def _read_password() -> str:
    """Prompted twice without echo on a terminal; otherwise one line of stdin (only the line end removed)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("SIP password: ")
    if getpass.getpass("Repeat SIP password: ") != first:
        raise InvalidField("password", "the two entries differ")
    return first


def _run(settings: Settings, work: Callable[[SipCredentialService], Awaitable[int]]) -> int:
    from app.storage.migrate import upgrade

    configure_logging(settings.log)
    upgrade(settings.database_url)
    keyring = prepare_keyring(settings)

    async def main() -> int:
        database = Database(settings.database_url)
        try:
            return await work(SipCredentialService(database, keyring))
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except InvalidField as exc:
        _say(f"invalid value for {exc.field}: {exc.reason}", file=sys.stderr)
    except DuplicateRealm:
        _say("a sip credential for this realm already exists", file=sys.stderr)
    except CredentialNotFound:
        _say("no sip credential for this realm", file=sys.stderr)
    except PasswordUnreadable:
        _say("the stored password cannot be decrypted; set a new one with set-password", file=sys.stderr)
    return EXIT_REFUSED


async def _existing_id(service: SipCredentialService, realm: str) -> int:
    view = await service.find_by_realm(realm)
    if view is None:
        raise CredentialNotFound(realm)
    return view.id


def sip_credential_command(args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    action: str = args.sip_action

    async def work(service: SipCredentialService) -> int:
        if action == "list":
            page = await service.list_page(realm=args.realm, limit=2**31 - 1, offset=0)
            if args.json:
                _say(json.dumps([{"id": v.id, "realm": v.realm, "username": v.username} for v in page.items]))
            else:
                # Tabs cannot occur in any field (control characters are refused), so this is unambiguous.
                _say("id\trealm\tusername")
                for view in page.items:
                    _say(f"{view.id}\t{view.realm}\t{view.username}")
            return 0
        if action == "add":
            password = _read_password()
            view = await service.create(realm=args.realm, username=args.username, password=password, actor=_cli_actor())
            _say(f"created sip credential {view.id} for realm {view.realm!r}")
            return 0
        if action == "set-password":
            credential_id = await _existing_id(service, args.realm)
            await service.update(credential_id, actor=_cli_actor(), password=_read_password())
            _say(f"password of sip credential {credential_id} changed")
            return 0
        credential_id = await _existing_id(service, args.realm)
        await service.delete(credential_id, actor=_cli_actor())
        _say(f"deleted sip credential {credential_id}")
        return 0

    return _run(settings, work)


def rotate_key_command(_args: argparse.Namespace) -> int:
    settings = settings_or_exit()

    async def work(service: SipCredentialService) -> int:
        report = await rotate(service.database, service.keyring)
        _say(
            f"new key {report.new_key_id}: re-encrypted {report.resealed} credential(s), "
            f"retired key(s) {', '.join(report.retired) or 'none'}"
        )
        if report.unreadable:
            ids = ", ".join(str(i) for i in report.unreadable)
            _say(
                f"credential(s) {ids} could not be decrypted and keep an unusable password: set them again",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        return 0

    return _run(settings, work)


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    subparsers.add_parser(
        "rotate-key", help="add a new encryption key, re-encrypt every SIP password under it, retire the old keys"
    )
    command = subparsers.add_parser("sip-credential", help="manage the SIP credentials answered per realm")
    actions = command.add_subparsers(dest="sip_action", metavar="action", required=True)
    listing = actions.add_parser("list", help="list credentials (never passwords)")
    listing.add_argument("--realm", help="only this realm (exact, case-sensitive)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    add = actions.add_parser("add", help="add a credential; the password is prompted for, or read from stdin")
    add.add_argument("realm")
    add.add_argument("username")
    set_password = actions.add_parser("set-password", help="replace a realm's password (prompted, or from stdin)")
    set_password.add_argument("realm")
    delete = actions.add_parser("delete", help="delete a realm's credential")
    delete.add_argument("realm")
    return {"rotate-key": rotate_key_command, "sip-credential": sip_credential_command}
