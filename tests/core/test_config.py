"""Settings precedence (defaults < TOML < environment) and start-up errors: exit 2, one plain stderr line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from passlib.hash import pbkdf2_sha256

from tests.support.bridge import REPO_ROOT, base_env, free_port


def _run(
    tmp_path: Path, *args: str, toml: str | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = base_env(tmp_path / "data", free_port(), free_port())
    if toml is not None:
        settings_file = tmp_path / "settings.toml"
        settings_file.write_text(toml)
        environment["ADHOC_SETTINGS_FILE"] = str(settings_file)
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def _effective(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    done = _run(tmp_path, "check-config", **kwargs)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_toml_overrides_defaults_and_environment_overrides_toml(tmp_path: Path) -> None:
    toml = (
        '[server]\nworkers = 3\nhttp_port = 18080\n[log]\nformat = "json"\n[external_system]\nusername = "toml-user"\n'
    )
    effective = _effective(
        tmp_path,
        toml=toml,
        env={"ADHOC_SERVER__WORKERS": "5", "ADHOC_SERVER__HTTP_PORT": None, "ADHOC_EXTERNAL_SYSTEM__USERNAME": None},
    )
    assert effective["server"]["workers"] == 5  # env beats TOML
    assert effective["server"]["http_port"] == 18080  # TOML beats the default
    assert effective["log"]["format"] == "json"
    assert effective["external_system"]["username"] == "toml-user"
    assert effective["server"]["trusted_proxies"] == []  # default
    assert effective["external_system"]["enable_http_access"] is False


START_UP_ERRORS = {
    "unknown-key": ({"toml": "[server]\nhttps_prot = 1\n"}, "server.https_prot: unknown key"),
    "unknown-section": ({"toml": "[sever]\nhost = 'x'\n"}, "sever: unknown key"),
    "bad-type": ({"env": {"ADHOC_SERVER__HTTPS_PORT": "not-a-port"}}, "server.https_port"),
    "bad-type-toml": ({"toml": '[server]\nworkers = "many"\n'}, "server.workers"),
    "bad-value": ({"env": {"ADHOC_SERVER__HTTPS_PORT": "70000"}}, "server.https_port"),
    "bad-log-format": ({"env": {"ADHOC_LOG__FORMAT": "xml"}}, "log.format"),
    "bad-proxy": ({"env": {"ADHOC_SERVER__TRUSTED_PROXIES": "10.0.0.300"}}, "server.trusted_proxies"),
    "password-and-hash": (
        {"env": {"ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH": pbkdf2_sha256.hash("x")}},
        "external_system: set either password or password_hash, not both",
    ),
    "unsupported-hash": (
        {"env": {"ADHOC_EXTERNAL_SYSTEM__PASSWORD": None, "ADHOC_EXTERNAL_SYSTEM__PASSWORD_HASH": "md5$abc"}},
        "external_system: password_hash is not an argon2, bcrypt or pbkdf2_sha256 hash",
    ),
    "missing-file": ({"env": {"ADHOC_SETTINGS_FILE": "/nonexistent/settings.toml"}}, "ADHOC_SETTINGS_FILE"),
    "invalid-toml": ({"toml": "[server\nhost = \n"}, "not valid TOML"),
    "misspelt-env-section": (
        {"env": {"ADHOC_EXTERNALSYSTEM__PASSWORD": "Env-Secret-Typo-1"}},
        "ADHOC_EXTERNALSYSTEM__PASSWORD: environment variable names no setting "
        "(did you mean ADHOC_EXTERNAL_SYSTEM__PASSWORD?)",
    ),
    "single-underscore-env": (
        {"env": {"ADHOC_SERVER_HTTPS_PORT": "443"}},
        "ADHOC_SERVER_HTTPS_PORT: environment variable names no setting (did you mean ADHOC_SERVER__HTTPS_PORT?)",
    ),
    "unknown-env-key": ({"env": {"ADHOC_SERVER__HTTPS_PROT": "443"}}, "ADHOC_SERVER__HTTPS_PROT"),
}


@pytest.mark.parametrize("command", ["serve", "check-config"])
@pytest.mark.parametrize(("kwargs", "expected"), START_UP_ERRORS.values(), ids=START_UP_ERRORS.keys())
def test_start_up_errors_exit_2_with_one_plain_line(
    tmp_path: Path, command: str, kwargs: dict[str, Any], expected: str
) -> None:
    done = _run(tmp_path, command, **kwargs)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("configuration error: ")
    assert expected in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_every_setting_and_the_settings_file_variable_are_accepted_from_the_environment(tmp_path: Path) -> None:
    """The valid names come from the Settings model: each one (and ADHOC_SETTINGS_FILE) passes the check."""
    from app.core.config import NON_SETTING_ENV_VARS, check_environment, setting_env_names

    names = setting_env_names()
    assert {"ADHOC_SERVER__HTTPS_PORT", "ADHOC_DATA_DIR", "ADHOC_SIP__REGISTRAR", "ADHOC_METRICS__PUBLIC"} <= names
    check_environment(dict.fromkeys(names | NON_SETTING_ENV_VARS, "x"))
    check_environment({"adhoc_server__https_port": "1", "PATH": "/bin", "ADHOCX": "1"})
    effective = _effective(tmp_path, env={"ADHOC_SERVER__WORKERS": "4", "adhoc_log__format": "json"})
    assert effective["server"]["workers"] == 4
    assert effective["log"]["format"] == "json"


def test_a_misspelt_variable_value_is_never_echoed(tmp_path: Path) -> None:
    done = _run(tmp_path, "serve", env={"ADHOC_EXTERNALSYSTEM__PASSWORD": "Never-Echo-This-9"})
    assert done.returncode == 2
    assert "Never-Echo-This-9" not in done.stderr + done.stdout


def test_variable_names_follow_optional_sections_and_mapping_fields() -> None:
    """A section typed ``Section | None`` is walked, and a mapping field accepts any key below it."""
    from pydantic import BaseModel

    from app.core.config import _env_names

    class Inner(BaseModel):
        labels: dict[str, str] = {}
        port: int = 1

    class Outer(BaseModel):
        inner: Inner | None = None

    open_prefixes: set[str] = set()
    assert _env_names(Outer, "ADHOC_", open_prefixes) == {"ADHOC_INNER", "ADHOC_INNER__LABELS", "ADHOC_INNER__PORT"}
    assert open_prefixes == {"ADHOC_INNER__LABELS__"}


def test_every_setting_is_documented_in_the_committed_settings_toml() -> None:
    """Each key of the Settings model has its commented-out ``# key = default`` line under its section."""
    from pydantic import BaseModel

    from app.core.config import Settings

    documented: dict[str, set[str]] = {"": set()}
    section = ""
    for line in (REPO_ROOT / "settings.toml").read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            documented.setdefault(section, set())
        elif line.startswith("# ") and " = " in line and line[2:].split(" = ", 1)[0].isidentifier():
            documented[section].add(line[2:].split(" = ", 1)[0])
    missing: list[str] = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            missing += [f"{name}.{key}" for key in annotation.model_fields if key not in documented.get(name, set())]
        elif name not in documented[""]:
            missing.append(name)
    assert not missing, f"not documented in settings.toml: {missing}"
