"""``hash-password`` (prompts twice, no echo) and ``check-config`` (secrets redacted)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from passlib.context import CryptContext

from tests.support.bridge import ADMIN_PASSWORD, EXTERNAL_PASSWORD, KNOWN_SECRETS, REPO_ROOT, base_env, free_port

NEW_PASSWORD = "Typed-at-the-prompt 31"
KNOWN_SECRETS.add(NEW_PASSWORD)
VERIFIER = CryptContext(schemes=["argon2"])


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _hash_password_on_a_terminal(first: str, second: str) -> tuple[int, bytes]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "hash-password"],
        cwd=REPO_ROOT,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={key: value for key, value in os.environ.items() if not key.startswith("ADHOC_")},
    )
    os.close(follower)
    transcript = _read_until(leader, b"New password: ")
    os.write(leader, first.encode() + b"\n")
    transcript += _read_until(leader, b"Repeat password: ")
    os.write(leader, second.encode() + b"\n")
    code = process.wait(timeout=60)
    transcript += _read_until(leader, b"\n$", timeout=2)
    os.close(leader)
    return code, transcript


def test_hash_password_prompts_twice_without_echo_and_prints_a_verifiable_hash() -> None:
    code, transcript = _hash_password_on_a_terminal(NEW_PASSWORD, NEW_PASSWORD)
    assert code == 0
    assert b"New password: " in transcript
    assert b"Repeat password: " in transcript
    assert NEW_PASSWORD.encode() not in transcript  # never echoed
    hash_line = next(line for line in transcript.decode().splitlines() if line.startswith("$argon2id$"))
    assert VERIFIER.verify(NEW_PASSWORD, hash_line.strip())


def test_hash_password_refuses_a_mismatch() -> None:
    code, transcript = _hash_password_on_a_terminal(NEW_PASSWORD, NEW_PASSWORD + "!")
    assert code == 1
    assert b"do not match" in transcript
    assert b"$argon2" not in transcript


def test_hash_password_reads_stdin_when_not_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "hash-password"],
        cwd=REPO_ROOT,
        input=NEW_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert VERIFIER.verify(NEW_PASSWORD, done.stdout.strip())


def test_check_config_prints_effective_settings_with_secrets_redacted(tmp_path: Path) -> None:
    env = base_env(tmp_path, free_port(), free_port())
    env["ADHOC_DATABASE__URL"] = "postgresql+asyncpg://adhoc:Db-secret-77@127.0.0.1:5432/adhoc"
    KNOWN_SECRETS.add("Db-secret-77")
    done = subprocess.run(
        [sys.executable, "-m", "app", "check-config"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for secret in (EXTERNAL_PASSWORD, ADMIN_PASSWORD, "Db-secret-77"):
        assert secret not in done.stdout
    assert '"password": "**********"' in done.stdout
    assert "adhoc:**********@127.0.0.1" in done.stdout
