"""Which run-time settings the start-up configuration pins, and by what (an env variable or a settings.toml key).

A value set by the environment or ``settings.toml`` wins over the database and cannot be changed at run
time: the API answers 409 naming the variable, and the console shows the field read-only with the same
reason. Sources are read with pydantic-settings' own ``EnvSettingsSource`` / ``TomlConfigSettingsSource``,
so "set" means exactly what the settings loader saw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

from app.core.config import Settings, SettingsFileError, settings_file_path

SECTION: Final = "external_system"
# Pexip's field name -> the keys of [external_system] that set it.
FIELD_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "legacy_api_username": ("username",),
    "legacy_api_password": ("password", "password_hash"),
    "legacy_api_http": ("enable_http_access",),
}
ENV_PREFIX: Final = "ADHOC_"


def _env_name(environ: Mapping[str, str], key: str) -> str:
    """The variable that set ``external_system.<key>`` as the operator spelt it (pydantic ignores case)."""
    wanted = f"{ENV_PREFIX}{SECTION}__{key}".upper()
    for name in environ:
        if name.upper() == wanted:
            return name
    section = f"{ENV_PREFIX}{SECTION}".upper()
    for name in environ:
        if name.upper() == section:  # the whole section as JSON
            return name
    return wanted


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    source = EnvSettingsSource(Settings)  # reads os.environ as the settings loader does
    if environ is not os.environ:
        source.env_vars = {name.lower(): value for name, value in environ.items()}
    values = source()
    section = values.get(SECTION)
    if isinstance(section, str):
        try:
            section = json.loads(section)
        except ValueError:
            return {}
    return section if isinstance(section, dict) else {}


def _from_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    section = TomlConfigSettingsSource(Settings, toml_file=path)().get(SECTION)
    return section if isinstance(section, dict) else {}


def find_pins(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Pexip field -> what pins it.

    E.g. ``ADHOC_EXTERNAL_SYSTEM__USERNAME`` or ``settings.toml external_system.username``.
    """
    env = os.environ if environ is None else environ
    from_env = _from_env(env)
    try:
        toml_path: Path | None = settings_file_path()
    except SettingsFileError:
        toml_path = None
    from_toml = _from_toml(toml_path) if toml_path is not None else {}
    explicitly_set = settings.external_system.model_fields_set
    pins: dict[str, str] = {}
    for field, keys in FIELD_KEYS.items():
        for key in keys:
            if key in from_env:
                pins[field] = _env_name(env, key)
            elif key in from_toml and toml_path is not None:
                pins[field] = f"{toml_path} {SECTION}.{key}"
            elif key in explicitly_set:
                pins[field] = f"the start-up settings ({SECTION}.{key})"
            else:
                continue
            break
    return pins
