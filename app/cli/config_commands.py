"""``hash-password`` and ``check-config``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from app.cli.settings_loader import settings_or_exit
from app.security.passwords import hash_password


def _read_new_password() -> str | None:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        return line or None
    first = getpass.getpass("New password: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        print("the passwords do not match", file=sys.stderr)
        return None
    return first or None


def hash_password_command(_args: argparse.Namespace) -> int:
    password = _read_new_password()
    if password is None:
        print("no password given", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def check_config_command(_args: argparse.Namespace) -> int:
    settings = settings_or_exit()
    effective = settings.model_dump(mode="json")
    if settings.database.url is not None:
        effective["database"]["url"] = _redact_url(settings.database.url)
    effective["database"]["effective_url"] = _redact_url(settings.database_url)
    print(json.dumps(effective, indent=2, sort_keys=True))
    return 0


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}:**********@{host}"
    return url


def register(subparsers: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    subparsers.add_parser("hash-password", help="prompt twice for a password and print its argon2 hash")
    subparsers.add_parser("check-config", help="validate settings and print them with secrets redacted")
    return {"hash-password": hash_password_command, "check-config": check_config_command}
