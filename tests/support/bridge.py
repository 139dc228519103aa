"""Starts the real service as a subprocess on free ports and stops it by PID."""

from __future__ import annotations

import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]

EXTERNAL_USER = "cucm-Ext"
EXTERNAL_PASSWORD = "Ext-pa55 wörd!"
ADMIN_USER = "Admin-Op"
ADMIN_PASSWORD = "Adm1n-S3cret-pw"

# Every secret any test configures; the suite's last act is to prove none reached a log.
KNOWN_SECRETS: set[str] = {EXTERNAL_PASSWORD, ADMIN_PASSWORD}
# SIP credential passwords and the master key the sip_credentials tests configure.
SIP_TEST_PASSWORDS = (
    "SipPw-Alpha-7f3c",
    "SipPw-Bravo-91ad",
    "sipPW-ΓΔ-ünï 42",
    "SipPw-Charlie-e0b2",
    "SipPw-Delta-55aa",
)
SIP_TEST_MASTER_KEY = "0YB1rSTbrZvDq-Yq1aTqVq3xE5fN8o2mL4kJ7hG6dS0="
KNOWN_SECRETS.update(SIP_TEST_PASSWORDS, {SIP_TEST_MASTER_KEY})
SERVER_LOGS: list[Path] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bridge:
    process: subprocess.Popen[bytes]
    https_port: int
    http_port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def cert_path(self) -> Path:
        return Path(self.env.get("ADHOC_SERVER__CERTFILE", self.data_dir / "tls-cert.pem"))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))

    def rpc(self, *, http: bool = False, **kwargs: Any) -> xmlrpc.client.ServerProxy:
        if http:
            return xmlrpc.client.ServerProxy(f"{self.http_url}/RPC2", **kwargs)
        return xmlrpc.client.ServerProxy(f"{self.https_url}/RPC2", context=self.ssl_context(), **kwargs)

    def client(self, *, http: bool = False, **kwargs: Any) -> httpx.Client:
        if http:
            return httpx.Client(base_url=self.http_url, timeout=10, **kwargs)
        return httpx.Client(base_url=self.https_url, verify=self.ssl_context(), timeout=10, **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise
        return self.process.returncode


def auth(user: str = EXTERNAL_USER, password: str = EXTERNAL_PASSWORD, **params: Any) -> dict[str, Any]:
    """A CUCM-style parameter struct: in-body credentials plus the call's members."""
    return {"authenticationUser": user, "authenticationPassword": password, **params}


def base_env(data_dir: Path, https_port: int, http_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADHOC_")}
    env.update(
        {
            "ADHOC_SETTINGS_FILE": str(REPO_ROOT / "settings.toml"),
            "ADHOC_DATA_DIR": str(data_dir),
            "ADHOC_SERVER__HOST": "127.0.0.1",
            "ADHOC_SERVER__HTTPS_PORT": str(https_port),
            "ADHOC_SERVER__HTTP_PORT": str(http_port),
            "ADHOC_EXTERNAL_SYSTEM__USERNAME": EXTERNAL_USER,
            "ADHOC_EXTERNAL_SYSTEM__PASSWORD": EXTERNAL_PASSWORD,
            "ADHOC_ADMIN__USERNAME": ADMIN_USER,
            "ADHOC_ADMIN__PASSWORD": ADMIN_PASSWORD,
            "ADHOC_LOG__LEVEL": "debug",
            "ADHOC_SIP__LOCAL_PORT": "0",  # the owner binds the SIP socket always: never the shared 5060 in tests
        }
    )
    return env


def start_bridge(
    data_dir: Path,
    *,
    env_overrides: dict[str, str | None] | None = None,
    args: tuple[str, ...] = (),
    wait: bool = True,
    timeout: float = 30,
    nofile: int | tuple[int, int] | None = None,
) -> Bridge:
    """Start ``python -m app`` with test credentials; ``None`` in ``env_overrides`` removes a variable.

    ``nofile`` runs it as under ``ulimit -n nofile`` (soft and hard open-files limit, or a (soft, hard) pair)."""
    https_port, http_port = free_port(), free_port()
    env = base_env(data_dir, https_port, http_port)
    for key, value in (env_overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    https_port = int(env["ADHOC_SERVER__HTTPS_PORT"])
    http_port = int(env["ADHOC_SERVER__HTTP_PORT"])
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{https_port}.log"
    SERVER_LOGS.append(log_path)

    def limit_open_files() -> None:  # runs in the child, before exec
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile if isinstance(nofile, tuple) else (nofile, nofile))

    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_open_files if nofile is not None else None,
        )
    bridge = Bridge(process, https_port, http_port, data_dir, log_path, env)
    if wait:
        wait_ready(bridge, timeout)
    return bridge


def wait_ready(bridge: Bridge, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bridge.process.poll() is not None:
            raise RuntimeError(f"bridge exited with {bridge.process.returncode}:\n{bridge.log_text()}")
        try:
            with bridge.client(http=True) as plain:
                plain.get("/healthz").raise_for_status()
            with bridge.client() as secure:
                secure.get("/healthz").raise_for_status()
            return
        except (httpx.HTTPError, OSError):
            time.sleep(0.1)
    bridge.stop(signal.SIGKILL)
    raise RuntimeError(f"bridge not ready after {timeout}s:\n{bridge.log_text()}")
