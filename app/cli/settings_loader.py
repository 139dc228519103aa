"""Loads settings for a CLI command; any problem is one plain line on stderr and exit status 2."""

from __future__ import annotations

import sys
import tomllib

from pydantic import ValidationError
from pydantic_settings import SettingsError

from app.core.config import (
    Settings,
    SettingsFileError,
    UnknownEnvironmentVariable,
    load_settings,
    settings_file_path,
)

EXIT_CONFIG_ERROR = 2


class ConfigError(SystemExit):
    def __init__(self, line: str) -> None:
        print(f"configuration error: {line}", file=sys.stderr)
        super().__init__(EXIT_CONFIG_ERROR)


def _describe(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    key = ".".join(str(part) for part in error["loc"]) or "settings"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    message = message.removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{key}: {message}{suffix}"


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except (SettingsFileError, UnknownEnvironmentVariable) as exc:
        raise ConfigError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{settings_file_path()}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(str(exc).split("\n")[0]) from None
