"""``python -m app [command]``: serve (default), hash-password, check-config, and the domain commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from app.cli import config_commands, serve_command, sip_options
from app.sip_credentials import cli as sip_credentials_cli

CommandHandler = Callable[[argparse.Namespace], int]
# Each module adds its subcommands to the parser and returns {name: handler}.
Registrar = Callable[[Any], dict[str, CommandHandler]]

COMMAND_MODULES: list[Registrar] = [
    serve_command.register,
    config_commands.register,
    sip_credentials_cli.register,
    sip_options.register,
]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, CommandHandler]]:
    parser = argparse.ArgumentParser(prog="python -m app", description="adhoc-bridge: CUCM ad hoc conference bridge")
    subparsers = parser.add_subparsers(dest="command", metavar="command")
    handlers: dict[str, CommandHandler] = {}
    for register in COMMAND_MODULES:
        handlers.update(register(subparsers))
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        args = parser.parse_args(["serve"])
    handler = handlers[str(args.command)]
    return handler(args)
