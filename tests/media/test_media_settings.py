"""media.* settings: defaults, environment names, secrets redacted, bad values stop the start with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bridge import KNOWN_SECRETS, REPO_ROOT, base_env, free_port

SECRET = "Media-Api-S3cret-0c7d"
KNOWN_SECRETS.add(SECRET)


def _run(tmp_path: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = base_env(tmp_path / "data", free_port(), free_port())
    environment.update(env)
    args = [] if command == "serve" else [command]
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_defaults_and_environment_names(tmp_path: Path) -> None:
    done = _run(tmp_path, "check-config", {})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["media"] == {
        "janus_url": None,
        "janus_api_secret": None,
        "janus_binary": "janus",
        "rtp_ports": "40000-40999",
    }
    env = {
        "ADHOC_MEDIA__JANUS_URL": "http://10.0.0.7:8088/janus/",
        "ADHOC_MEDIA__JANUS_API_SECRET": SECRET,
        "ADHOC_MEDIA__JANUS_BINARY": "/opt/janus/bin/janus",
        "ADHOC_MEDIA__RTP_PORTS": "20000-20999",
    }
    done = _run(tmp_path, "check-config", env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["media"] == {
        "janus_url": "http://10.0.0.7:8088/janus",
        "janus_api_secret": "**********",
        "janus_binary": "/opt/janus/bin/janus",
        "rtp_ports": "20000-20999",
    }
    assert SECRET not in done.stdout + done.stderr


BAD_VALUES = {
    "odd-low": ("ADHOC_MEDIA__RTP_PORTS", "40001-40999", "media.rtp_ports"),
    "privileged": ("ADHOC_MEDIA__RTP_PORTS", "1000-2000", "media.rtp_ports"),
    "above-65535": ("ADHOC_MEDIA__RTP_PORTS", "40000-70000", "media.rtp_ports"),
    "reversed": ("ADHOC_MEDIA__RTP_PORTS", "41000-40000", "media.rtp_ports"),
    "not-a-range": ("ADHOC_MEDIA__RTP_PORTS", "40000", "media.rtp_ports"),
    "words": ("ADHOC_MEDIA__RTP_PORTS", "low-high", "media.rtp_ports"),
    "url-scheme": ("ADHOC_MEDIA__JANUS_URL", "ws://127.0.0.1:8188", "media.janus_url"),
}


@pytest.mark.parametrize("command", ["serve", "check-config"])
@pytest.mark.parametrize(("key", "value", "expected"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_stop_the_start_with_one_line_naming_the_key(
    tmp_path: Path, command: str, key: str, value: str, expected: str
) -> None:
    done = _run(tmp_path, command, {key: value})
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"configuration error: {expected}: ")
    assert "Traceback" not in done.stderr


def test_every_media_key_is_documented_with_its_default() -> None:
    from app.core.config import MediaSettings

    toml = (REPO_ROOT / "settings.toml").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    section = toml.split("[media]", 1)[1]
    defaults = MediaSettings()
    assert f'# janus_binary = "{defaults.janus_binary}"' in section
    assert f'# rtp_ports = "{defaults.rtp_ports}"' in section
    for key in MediaSettings.model_fields:
        assert f"# {key} = " in section
        assert f"| `media.{key}` | `ADHOC_MEDIA__{key.upper()}` |" in readme
