"""participant.add dials a real baresip phone through Kamailio (407 challenge): it answers and hears the
caller already in the conference, who hears it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.calls.conftest import calling_env
from tests.calls.test_baresip import assert_hears, phone_config, samples
from tests.sip.conftest import HOST, _kamailio_mpath, _stop, free_port, require_binary
from tests.sip_registration.conftest import REALM, SIP_PASSWORD, SIP_USER, add_credential, rpc, wait_until
from tests.support.bridge import Bridge, start_bridge

pytestmark = pytest.mark.skipif(
    shutil.which("janus") is None or shutil.which("baresip") is None,
    reason="needs janus and baresip-core (apt-get install janus baresip-core)",
)

PROXY_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "htable.so"
loadmodule "textops.so"
loadmodule "auth.so"
modparam("auth", "secret", "test-only-nonce-secret")
modparam("htable", "htable", "creds=>size=4;")
event_route[htable:mod-init] {{ $sht(creds=>{user}) = "{password}"; }}
request_route {{
    if (has_totag()) {{ loose_route(); t_relay(); exit; }}
    if (is_method("ACK|CANCEL")) {{ t_relay(); exit; }}
    if (is_method("INVITE")) {{
        $var(pw) = "";
        if ($au != $null && $sht(creds=>$au) != $null) {{ $var(pw) = $sht(creds=>$au); }}
        pv_auth_check("{realm}", "$var(pw)", "0", "0");
        if ($rc < 0) {{ auth_challenge("{realm}", "1"); exit; }}
        consume_credentials();
        xlog("L_INFO", "authenticated INVITE to $ru\\n");
    }}
    record_route();
    t_relay();
}}
"""


def _baresip(home: Path, *args: str) -> subprocess.Popen[bytes]:
    with (home / "stdout.txt").open("wb") as out:
        return subprocess.Popen(
            ["baresip", "-f", str(home), *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


@dataclass
class Proxy:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path


@contextlib.contextmanager
def kamailio_proxy(tmp_path: Path, config: str, port: int, ready: Callable[[], bool] | None = None) -> Iterator[Proxy]:
    """Kamailio on ``port`` with ``config`` (a template: port, mpath, user, password, realm), stopped after.
    ``ready`` says when it listens (a UDP-only proxy cannot be probed: it gets half a second)."""
    kamailio = require_binary("kamailio")
    cfg = tmp_path / "proxy.cfg"
    cfg.write_text(config.format(port=port, mpath=_kamailio_mpath(), user=SIP_USER, password=SIP_PASSWORD, realm=REALM))
    log = tmp_path / "kamailio.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [kamailio, "-f", str(cfg), "-DD", "-E", "-w", str(tmp_path), "-P", str(tmp_path / "k.pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        if ready is None:
            time.sleep(0.5)
        else:
            wait_until("kamailio listening", lambda: ready() or proc.poll() is not None, timeout=10)
        if proc.poll() is not None:
            pytest.fail(f"kamailio exited\n{log.read_text()[-3000:]}")
        yield Proxy(proc, port, log)
    finally:
        _stop(proc)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    with kamailio_proxy(tmp_path, PROXY_CFG, free_port()) as running:
        yield running


@pytest.fixture
def proxied(tmp_path: Path, proxy: Proxy) -> Iterator[tuple[Bridge, int]]:
    sip_port = free_port()
    env = calling_env(sip_port)
    env["ADHOC_SIP__OUTBOUND_PROXY"] = f"sip:127.0.0.1:{proxy.port}"
    bridge = start_bridge(tmp_path / "data", env_overrides=env)
    wait_until("janus ready", lambda: "janus ready" in bridge.log_text() or None, timeout=30)
    yield bridge, sip_port
    bridge.stop()


def test_dial_out_through_a_challenging_proxy_to_a_phone_that_hears_the_caller(
    proxied: tuple[Bridge, int], proxy: Proxy, tmp_path: Path
) -> None:
    bridge, sip_port = proxied
    add_credential(bridge)
    rpc(bridge, "conference.create", conferenceName="dial-phone", numericId="7961")
    caller_home, callee_home = tmp_path / "caller", tmp_path / "callee"
    phone_config(caller_home, 0, 440)
    callee_port = phone_config(callee_home, 1, 1000, auto_answer=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_baresip(callee_home, "-t", "9"))
        procs.append(_baresip(caller_home, "-e", f"/dial sip:7961@{HOST}:{sip_port}", "-t", "8"))
        rpc(
            bridge,
            "participant.add",
            conferenceName="dial-phone",
            participantName="callee",
            participantProtocol="sip",
            address=f"sip:phone1@{HOST}:{callee_port}",
        )

        def both_connected() -> bool | None:
            found = rpc(bridge, "participant.enumerate").get("participants", [])
            states = sorted(p["currentState"]["callState"] for p in found if p["conferenceName"] == "dial-phone")
            return True if states == ["connected", "connected"] else None

        wait_until("caller and dialled phone connected", both_connected, timeout=8)
        found = rpc(bridge, "participant.enumerate").get("participants", [])
        (dialled,) = [p for p in found if p["participantName"] == "callee"]
        assert dialled["currentState"]["callDirection"] == "outgoing"
        for proc in procs:
            proc.wait(timeout=20)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rpc(bridge, "conference.destroy", conferenceName="dial-phone")
    assert "authenticated INVITE to sip:phone1@" in proxy.log.read_text()
    for home, own, other in ((caller_home, 440, 1000), (callee_home, 1000, 440)):
        recordings = sorted(home.glob("dump-*-dec.wav"))
        assert recordings, (home / "stdout.txt").read_text()[-2000:]
        recorded, rate = samples(recordings[0])
        assert_hears(home, recorded[rate * 2 :], rate, own, [other])
