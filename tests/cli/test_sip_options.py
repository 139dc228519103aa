"""``python -m app sip-options <uri>`` as an operator runs it: a subprocess on the service's files, against a
real Kamailio that challenges OPTIONS with 407 (MD5 or SHA-256), credentials stored with the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.conftest import _stop
from tests.sip_registration.conftest import REALM, SIP_PASSWORD, SIP_USER, Registrar, start_registrar
from tests.support.bridge import REPO_ROOT, base_env, free_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return base_env(tmp_path / "data", free_port(), free_port())


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def store_credential(env: dict[str, str], password: str = SIP_PASSWORD) -> None:
    added = run(env, "sip-credential", "add", REALM, SIP_USER, stdin=password + "\n")
    assert added.returncode == 0, added.stderr


@pytest.fixture
def registrar(tmp_path: Path) -> Iterator[Registrar]:
    peer = start_registrar(tmp_path / "kamailio")
    yield peer
    _stop(peer.proc)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_challenged_options_answered_with_the_stored_credential(
    env: dict[str, str], tmp_path: Path, algorithm: str
) -> None:
    store_credential(env)
    registrar = start_registrar(tmp_path / "kamailio", algorithm=algorithm)
    try:
        check_answered(env, registrar, algorithm)
    finally:
        _stop(registrar.proc)


def check_answered(env: dict[str, str], registrar: Registrar, algorithm: str) -> None:
    # The service may be holding sip.local_port: the diagnostic binds its own ephemeral port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        env["ADHOC_SIP__LOCAL_PORT"] = str(busy.getsockname()[1])
        result = run(env, "sip-options", registrar.uri)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "SIP/2.0 200 OK"
    assert f"realm: {REALM}" in lines
    assert f"algorithm: {algorithm}" in lines
    assert SIP_PASSWORD not in result.stdout + result.stderr
    assert "CHALLENGE OPTIONS" in registrar.log()


def test_no_credential_for_the_realm_exits_1_naming_it(env: dict[str, str], registrar: Registrar) -> None:
    result = run(env, "sip-options", registrar.uri)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("SIP/2.0 407 ")
    assert f'no SIP credential for realm "{REALM}"' in result.stdout


def test_refused_password_exits_1_without_looping(env: dict[str, str], registrar: Registrar) -> None:
    store_credential(env, password="not-the-password")
    result = run(env, "sip-options", registrar.uri)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("SIP/2.0 407 ")
    assert registrar.log().count("CHALLENGE OPTIONS") <= 3  # the loop guard's cap


def test_invalid_uri_exits_1(env: dict[str, str]) -> None:
    result = run(env, "sip-options", "not-a-sip-uri")
    assert result.returncode == 1
    assert "invalid SIP URI" in result.stderr
    assert "Traceback" not in result.stderr


def test_configuration_error_exits_2(env: dict[str, str]) -> None:
    env["ADHOC_SIP__REGISTRAR"] = "http://nope"
    result = run(env, "sip-options", "sip:127.0.0.1:5060")
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: sip.registrar")
