"""A first start that cannot work says why: one plain line naming the setting, exit status 2, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.transport.tls import _write_self_signed
from tests.conftest import BridgeFactory
from tests.support.bridge import REPO_ROOT, base_env, free_port


def _serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = base_env(tmp_path / "data", free_port(), free_port())
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "app"], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def _assert_one_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines == [f"start-up error: {expected}"], done.stderr
    assert done.stdout == ""


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("setting", ["https_port", "http_port"])
def test_a_port_in_use_is_named(tmp_path: Path, taken_port: int, setting: str) -> None:
    done = _serve(tmp_path, {f"ADHOC_SERVER__{setting.upper()}": str(taken_port)})
    _assert_one_line(done, f"server.{setting}: port {taken_port} on 127.0.0.1 is already in use")


def test_a_host_that_is_not_ours_is_named(tmp_path: Path) -> None:
    done = _serve(tmp_path, {"ADHOC_SERVER__HOST": "192.0.2.77"})
    _assert_one_line(done, "server.host: 192.0.2.77 is not an address of this machine")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    _write_self_signed(cert, key)
    return cert, key


def test_a_missing_certificate_is_named(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    missing = tmp_path / "nowhere" / "cert.pem"
    done = _serve(tmp_path, {"ADHOC_SERVER__CERTFILE": str(missing), "ADHOC_SERVER__KEYFILE": str(pair[1])})
    _assert_one_line(done, f"server.certfile: {missing}: no such file")


def test_a_certificate_path_that_is_a_directory_is_named(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    done = _serve(tmp_path, {"ADHOC_SERVER__CERTFILE": str(tmp_path), "ADHOC_SERVER__KEYFILE": str(pair[1])})
    _assert_one_line(done, f"server.certfile: {tmp_path} is a directory, not a file")


def test_a_file_that_is_no_certificate_is_named(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    done = _serve(tmp_path, {"ADHOC_SERVER__CERTFILE": str(garbage), "ADHOC_SERVER__KEYFILE": str(pair[1])})
    _assert_one_line(done, f"server.certfile: {garbage} holds no PEM certificate")


def test_a_key_that_is_no_key_or_not_the_certificates_is_named(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, _key = pair
    done = _serve(tmp_path, {"ADHOC_SERVER__CERTFILE": str(cert), "ADHOC_SERVER__KEYFILE": str(cert)})
    _assert_one_line(done, f"server.keyfile: {cert} holds no PEM private key")
    other_cert, other_key = tmp_path / "other-cert.pem", tmp_path / "other-key.pem"
    _write_self_signed(other_cert, other_key)
    done = _serve(tmp_path, {"ADHOC_SERVER__CERTFILE": str(cert), "ADHOC_SERVER__KEYFILE": str(other_key)})
    _assert_one_line(done, f"server.keyfile: {other_key} does not match the certificate in {cert}")


def test_the_operators_own_pair_is_served(bridge_factory: BridgeFactory, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__CERTFILE": str(cert), "ADHOC_SERVER__KEYFILE": str(key)})
    with bridge.client() as client:
        assert client.get("/healthz").status_code == 200
    assert not (bridge.data_dir / "tls-cert.pem").exists()


def test_a_data_dir_that_is_a_regular_file_is_named(tmp_path: Path) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("x")
    done = _serve(tmp_path, {"ADHOC_DATA_DIR": str(regular)})
    _assert_one_line(done, f"data_dir: {regular} exists and is not a directory")


def test_a_data_dir_below_a_regular_file_is_named(tmp_path: Path) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("x")
    below = regular / "var"
    done = _serve(tmp_path, {"ADHOC_DATA_DIR": str(below)})
    _assert_one_line(done, f"data_dir: cannot create {below}: a parent of it is not a directory")


def test_a_data_dir_whose_metrics_directory_cannot_be_made_is_named(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "metrics").write_text("in the way")
    done = _serve(tmp_path, {"ADHOC_DATA_DIR": str(data_dir)})
    _assert_one_line(done, f"data_dir: cannot prepare {data_dir / 'metrics'}: file exists")


def test_a_data_dir_nobody_may_write_in_is_named(tmp_path: Path) -> None:
    # As root chmod stops nothing; sysfs refuses a new file to everyone.
    done = _serve(tmp_path, {"ADHOC_DATA_DIR": "/sys"})
    _assert_one_line(done, "data_dir: /sys is not writable: permission denied")
