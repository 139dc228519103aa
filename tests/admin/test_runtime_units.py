"""In process: what pins a run-time setting, and CredentialChecker.replace (no server needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.core.config import ExternalSystemSettings, Settings
from app.runtime_settings.pins import find_pins
from app.security.credentials import CredentialChecker
from app.security.passwords import hash_password


@pytest.fixture
def no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("ADHOC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no settings.toml here
    return tmp_path


def test_nothing_set_pins_nothing(no_settings_file: Path) -> None:
    assert find_pins(Settings()) == {}


def test_env_variables_pin_as_spelt(no_settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("adhoc_external_system__password_hash", hash_password("Pin-pw-1"))
    monkeypatch.setenv("ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS", "true")
    assert find_pins(Settings()) == {
        "legacy_api_password": "adhoc_external_system__password_hash",
        "legacy_api_http": "ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS",
    }


def test_a_json_section_variable_pins_its_keys(no_settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADHOC_EXTERNAL_SYSTEM", '{"username": "cucm"}')
    assert find_pins(Settings()) == {"legacy_api_username": "ADHOC_EXTERNAL_SYSTEM"}


def test_settings_toml_pins_with_its_path(no_settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = no_settings_file / "site.toml"
    toml.write_text('[external_system]\nusername = "cucm"\n')
    monkeypatch.setenv("ADHOC_SETTINGS_FILE", str(toml))
    monkeypatch.setenv("ADHOC_EXTERNAL_SYSTEM__USERNAME", "wins")
    assert find_pins(Settings()) == {"legacy_api_username": "ADHOC_EXTERNAL_SYSTEM__USERNAME"}
    monkeypatch.delenv("ADHOC_EXTERNAL_SYSTEM__USERNAME")
    assert find_pins(Settings()) == {"legacy_api_username": f"{toml} external_system.username"}


def test_values_given_in_code_pin_too(no_settings_file: Path) -> None:
    settings = Settings(external_system=ExternalSystemSettings(enable_http_access=True))
    assert find_pins(settings) == {"legacy_api_http": "the start-up settings (external_system.enable_http_access)"}


async def test_replace_forgets_cached_successes() -> None:
    checker = CredentialChecker("external_system", ExternalSystemSettings(username="a", password=SecretStr("Old-pw-1")))
    assert await checker.check("a", "Old-pw-1", "127.0.0.1")
    assert checker.cached("a", "Old-pw-1")
    checker.replace(username="b")  # same hash, new username: the old pair must not pass from the cache
    assert not checker.cached("a", "Old-pw-1")
    assert not await checker.check("a", "Old-pw-1", "127.0.0.1")
    assert await checker.check("b", "Old-pw-1", "127.0.0.1")
    checker.replace(password_hash=hash_password("New-pw-2"))
    assert not await checker.check("b", "Old-pw-1", "127.0.0.1")
    assert await checker.check("b", "New-pw-2", "127.0.0.1")
    checker.replace(password_hash=None)
    assert not checker.configured
    assert not await checker.check("b", "New-pw-2", "127.0.0.1")
