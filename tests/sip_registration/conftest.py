"""A real Kamailio registrar (usrloc in memory, binrpc for ``kamcmd ul.dump``), bridges that register with it,
and helpers to watch what the registrar received. Peers and bridges are stopped by PID."""

from __future__ import annotations

import re
import subprocess
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sip.conftest import HOST, _kamailio_mpath, _stop, free_port, require_binary
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, KNOWN_SECRETS, Bridge, auth
from tests.support.postgres import fresh_schema_url, migrated_database_url

REALM = "Test.Realm"
SIP_USER = "bridge-reg"
SIP_PASSWORD = "RegPw-Echo-4c1d"
KNOWN_SECRETS.add(SIP_PASSWORD)
STATUS_PATH = "/api/admin/status/v1/registration/"
CREDENTIALS_PATH = "/api/admin/configuration/v1/sip_credential/"

REGISTRAR_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "kex.so"
loadmodule "ctl.so"
loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "xlog.so"
loadmodule "htable.so"
loadmodule "textops.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("ctl", "binrpc", "unix:{ctl}")
modparam("auth", "secret", "test-only-nonce-secret")
modparam("auth", "algorithm", "{algorithm}")
modparam("usrloc", "db_mode", 0)
modparam("htable", "htable", "creds=>size=4;")
event_route[htable:mod-init] {{ $sht(creds=>{user}) = "{password}"; }}
request_route {{
    if (is_method("ACK|CANCEL")) {{ exit; }}
    $var(realm) = "{realm}";
    $var(pw) = "";
    if ($au != $null && $sht(creds=>$au) != $null) {{ $var(pw) = $sht(creds=>$au); }}
    pv_auth_check("$var(realm)", "$var(pw)", "0", "0");
    $var(rc) = $rc;
    if ($var(rc) < 0) {{
        xlog("L_NOTICE", "CHALLENGE $rm to=$tu rc=$var(rc)\\n");
        if ($var(rc) == -4 || $var(rc) == -6) {{ auth_challenge("$var(realm)", "17"); }}
        else {{ auth_challenge("$var(realm)", "1"); }}
        exit;
    }}
    consume_credentials();
    if (is_method("REGISTER")) {{
        xlog("L_NOTICE", "REGISTER-OK to=$tu expires=$hdr(Expires) callid=$ci\\n");
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    sl_send_reply("200", "OK");
    exit;
}}
"""


@dataclass
class Registrar:
    """Kamailio as the registrar: its location table and its log are what the bridge did, seen from outside."""

    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    @property
    def ctl(self) -> Path:
        return self.workdir / "ctl.sock"

    @property
    def uri(self) -> str:
        return f"sip:{HOST}:{self.port};transport=udp"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def bindings(self) -> dict[str, list[str]]:
        """AoR -> contact addresses, from ``kamcmd ul.dump`` (the registrar's location table)."""
        dump = subprocess.run(
            ["kamcmd", "-s", f"unix:{self.ctl}", "ul.dump"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
        table: dict[str, list[str]] = {}
        current: str | None = None
        for line in dump.splitlines():
            aor = re.match(r"\s*AoR:\s*(\S+)", line)
            if aor:
                current = aor.group(1)
                table[current] = []
            address = re.match(r"\s*Address:\s*(\S+)", line)
            if address and current is not None:
                table[current].append(address.group(1))
        return table

    def count(self, event: str, alias: str, expires: str | None = None) -> int:
        """How many ``CHALLENGE REGISTER`` / ``REGISTER-OK`` lines the registrar logged for ``alias``."""
        pattern = re.escape(f"{event} to={alias}") + (re.escape(f" expires={expires} ") if expires else r"[ \n]")
        return len(re.findall(pattern, self.log()))


def start_registrar(workdir: Path, *, algorithm: str = "MD5") -> Registrar:
    kamailio = require_binary("kamailio")
    require_binary("kamcmd")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "registrar.cfg"
    ctl = workdir / "ctl.sock"
    cfg.write_text(
        REGISTRAR_CFG.format(
            port=port,
            mpath=_kamailio_mpath(),
            ctl=ctl,
            algorithm=algorithm,
            user=SIP_USER,
            password=SIP_PASSWORD,
            realm=REALM,
        )
    )
    with (workdir / "kamailio.log").open("wb") as log:
        proc = subprocess.Popen(
            [kamailio, "-f", str(cfg), "-DD", "-E", "-w", str(workdir), "-P", str(workdir / "kamailio.pid")],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    registrar = Registrar(proc, port, workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"kamailio exited with {proc.returncode}\n{registrar.log()[-4000:]}")
        if ctl.exists():
            try:
                registrar.bindings()
                return registrar
            except subprocess.SubprocessError:
                pass
        time.sleep(0.05)
    _stop(proc)
    pytest.fail(f"kamailio registrar did not start\n{registrar.log()[-4000:]}")


@pytest.fixture(scope="module")
def registrar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registrar]:
    peer = start_registrar(tmp_path_factory.mktemp("registrar"))
    yield peer
    _stop(peer.proc)


def registrar_env(registrar: Registrar, **extra: str) -> dict[str, str | None]:
    return {
        "ADHOC_SIP__REGISTRAR": registrar.uri,
        "ADHOC_SIP__LOCAL_PORT": "0",
        "ADHOC_LOG__LEVEL": "info",
        **extra,
    }


def admin(bridge: Bridge) -> httpx.Client:
    return bridge.client(auth=(ADMIN_USER, ADMIN_PASSWORD))


def add_credential(bridge: Bridge) -> str:
    """The realm's credential, created through the admin API; returns its resource URI."""
    with admin(bridge) as client:
        response = client.post(CREDENTIALS_PATH, json={"realm": REALM, "username": SIP_USER, "password": SIP_PASSWORD})
    assert response.status_code == 201, response.text
    return str(response.json()["resource_uri"])


def delete_credential(bridge: Bridge, resource_uri: str) -> None:
    with admin(bridge) as client:
        assert client.delete(resource_uri).status_code == 204


def rpc(bridge: Bridge, method: str, **params: Any) -> Any:
    with bridge.rpc() as proxy:
        return getattr(proxy, method)(auth(**params))


def rpc_fault(bridge: Bridge, method: str, **params: Any) -> int:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        rpc(bridge, method, **params)
    return int(raised.value.faultCode)


def statuses(bridge: Bridge) -> dict[str, dict[str, Any]]:
    with admin(bridge) as client:
        response = client.get(STATUS_PATH, params={"limit": 0})
    assert response.status_code == 200, response.text
    return {item["alias"]: item for item in response.json()["objects"]}


def wait_until(what: str, check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def wait_state(bridge: Bridge, alias: str, state: str, timeout: float = 15.0) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        item = statuses(bridge).get(alias)
        return item if item is not None and item["state"] == state else None

    result: dict[str, Any] = wait_until(f"{alias} {state}", current, timeout)
    return result


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh role whose search_path is its own fresh schema in database ``test``; dropped afterwards."""
    with fresh_schema_url("adhoc_sipreg") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at every migration head: a SQLite file, or a fresh PostgreSQL schema."""
    return migrated_database_url(request, tmp_path / "store.db")
