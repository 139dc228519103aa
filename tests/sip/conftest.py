"""Shared fixtures for SIP tests: free ports, SIPp and Kamailio peers started as subprocesses, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.sip.digest import CredentialLookup

SCENARIOS = Path(__file__).parent / "scenarios"
HOST = "127.0.0.1"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (best effort)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind((HOST, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def static_lookup(table: dict[str, tuple[str, str]]) -> CredentialLookup:
    async def lookup(realm: str) -> tuple[str, str] | None:
        return table.get(realm)

    return lookup


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name!r} is not installed: apt-get install -y sip-tester kamailio (CI installs them)")
    return path


def _stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


@dataclass
class SippPeer:
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    scenario: str

    @property
    def uri(self) -> str:
        return f"sip:{HOST}:{self.port}"

    def wait(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(self.proc)
            pytest.fail(f"sipp {self.scenario} did not finish within {timeout}s\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for f in sorted(self.workdir.glob("*")):
            if f.is_file() and f.suffix in (".log", ".txt"):
                parts.append(f"--- {f.name}\n{f.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


@dataclass
class SippFactory:
    tmp: Path
    peers: list[SippPeer] = field(default_factory=list)

    def start(
        self, scenario: str, *, keys: dict[str, str] | None = None, timeout_s: int = 20, transport: str = "u1"
    ) -> SippPeer:
        """Run ``scenario`` (a UAS) on a free port; ``transport`` is SIPp's ``-t`` (``t1``: one TCP socket)."""
        sipp = require_binary("sipp")
        port = free_port()
        workdir = self.tmp / f"sipp-{len(self.peers)}"
        workdir.mkdir()
        scen = SCENARIOS / scenario
        cmd = [
            sipp,
            "-sf",
            str(scen),
            "-i",
            HOST,
            "-p",
            str(port),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(workdir / "errors.log"),
            "-trace_msg",
            "-message_file",
            str(workdir / "messages.log"),
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-t",
            transport,
        ]
        for k, v in (keys or {}).items():
            cmd += ["-key", k, v]
        stdout = (workdir / "stdout.txt").open("wb")
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        stdout.close()
        peer = SippPeer(proc=proc, port=port, workdir=workdir, scenario=scenario)
        self.peers.append(peer)
        time.sleep(0.2)  # our UDP retransmissions (Timer E) cover a slower start
        if proc.poll() is not None:
            pytest.fail(f"sipp exited at start with {proc.returncode}\n{peer.logs()}")
        return peer

    def stop_all(self) -> None:
        for p in self.peers:
            _stop(p.proc)


@pytest.fixture
def sipp(tmp_path: Path) -> Iterator[SippFactory]:
    factory = SippFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "xlog.so"
loadmodule "htable.so"
loadmodule "textops.so"
loadmodule "auth.so"
modparam("auth", "secret", "test-only-nonce-secret")
modparam("auth", "algorithm", "{algorithm}")
modparam("auth", "nonce_expire", {nonce_expire})
modparam("htable", "htable", "creds=>size=4;")
event_route[htable:mod-init] {{ $sht(creds=>alice) = "S3cret!"; }}
request_route {{
    if (is_method("ACK|CANCEL")) {{ exit; }}
    xlog("L_NOTICE", "REQ $rm $ru cseq=$cs expires=$hdr(Expires) au=$au\\n");
    $var(realm) = "Test.Realm";
    $var(pw) = "";
    if ($au != $null && $sht(creds=>$au) != $null) {{ $var(pw) = $sht(creds=>$au); }}
    pv_auth_check("$var(realm)", "$var(pw)", "0", "0");
    $var(rc) = $rc;
    if ($var(rc) < 0) {{
        xlog("L_NOTICE", "AUTH-FAIL rc=$var(rc) $rm\\n");
        if ($var(rc) == -4 || $var(rc) == -6) {{ auth_challenge("$var(realm)", "17"); }}
        else {{ auth_challenge("$var(realm)", "1"); }}
        exit;
    }}
    consume_credentials();
    xlog("L_NOTICE", "AUTH-OK $rm expires=$hdr(Expires)\\n");
    if (is_method("REGISTER")) {{
        append_to_reply("Contact: $ct\\r\\n");
    }}
    sl_send_reply("200", "OK");
    exit;
}}
"""


def _kamailio_mpath() -> str:
    for cand in ("/usr/lib/x86_64-linux-gnu/kamailio/modules/", "/usr/lib/aarch64-linux-gnu/kamailio/modules/"):
        if Path(cand).is_dir():
            return cand
    found = sorted(Path("/usr/lib").glob("*/kamailio/modules/auth.so"))
    if found:
        return str(found[0].parent) + "/"
    pytest.fail("kamailio modules directory not found")


@dataclass
class KamailioPeer:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def uri(self) -> str:
        return f"sip:{HOST}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class KamailioFactory:
    tmp: Path
    peers: list[KamailioPeer] = field(default_factory=list)

    def start(self, algorithm: str = "MD5", nonce_expire: int = 30) -> KamailioPeer:
        kamailio = require_binary("kamailio")
        port = free_port()
        workdir = self.tmp / f"kamailio-{len(self.peers)}"
        workdir.mkdir()
        cfg = workdir / "digest.cfg"
        cfg.write_text(
            KAMAILIO_CFG.format(port=port, mpath=_kamailio_mpath(), algorithm=algorithm, nonce_expire=nonce_expire)
        )
        log_path = workdir / "kamailio.log"
        logf = log_path.open("wb")
        proc = subprocess.Popen(
            [kamailio, "-f", str(cfg), "-DD", "-E", "-w", str(workdir), "-P", str(workdir / "kamailio.pid")],
            cwd=workdir,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        logf.close()
        peer = KamailioPeer(proc=proc, port=port, log_path=log_path)
        self.peers.append(peer)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"kamailio exited with {proc.returncode}\n{peer.log()[-4000:]}")
            try:
                with socket.create_connection((HOST, port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail(f"kamailio did not start listening\n{peer.log()[-4000:]}")
        return peer

    def stop_all(self) -> None:
        for p in self.peers:
            _stop(p.proc)


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[KamailioFactory]:
    factory = KamailioFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()
