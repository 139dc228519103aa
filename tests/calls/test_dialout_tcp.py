"""Dial-out over TCP: participant.add of a ``;transport=tcp`` address rings a SIPp phone on TCP, and a baresip
phone is reached through a Kamailio outbound proxy on TCP (407 challenge answered); each gets connected, and
participant.disconnect hangs up with a BYE over TCP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.calls.conftest import CallingBridge, call_state_of, calling_env, participant_of
from tests.calls.test_baresip import phone_config
from tests.calls.test_dialout_phone import PROXY_CFG, Proxy, kamailio_proxy
from tests.sip.conftest import HOST, SippFactory, free_port
from tests.sip_registration.conftest import add_credential, rpc, wait_until
from tests.support.bridge import Bridge, start_bridge

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="janus is not installed (apt-get install janus)")


def _disconnect(bridge: Any, conference: str, name: str) -> None:
    rpc(
        bridge,
        "participant.disconnect",
        conferenceName=conference,
        participantName=name,
        participantProtocol="sip",
        participantType="by_address",
    )


def test_dial_out_to_a_transport_tcp_address(calling: CallingBridge, tmp_path: Path) -> None:
    b = calling.bridge
    phones = SippFactory(tmp_path)
    rpc(b, "conference.create", conferenceName="dial-tcp", numericId="7971")
    try:
        phone = phones.start("uas_answer_tcp.xml", transport="t1", timeout_s=40)
        rpc(
            b,
            "participant.add",
            conferenceName="dial-tcp",
            participantName="tcp-phone",
            participantProtocol="sip",
            address=f"sip:phone@{HOST}:{phone.port};transport=tcp",
        )
        log = phone.workdir / "messages.log"
        wait_until("the phone rang", lambda: log.exists() and "180 Ringing" in log.read_text() or None, timeout=20)
        wait_until("connected", lambda: call_state_of(b, "dial-tcp", "tcp-phone") == "connected" or None, timeout=20)
        state = participant_of(b, "dial-tcp", "tcp-phone")["currentState"]
        assert state["callDirection"] == "outgoing"
        # the re-INVITE with the mixer's new port was answered before we hang up
        wait_until("the re-INVITE's ACK", lambda: log.read_text().count("ACK sip:") >= 2 or None, timeout=20)
        _disconnect(b, "dial-tcp", "tcp-phone")
        assert phone.wait(timeout=30) == 0, phone.logs()  # 0 only after the BYE came over TCP and was answered
        text = log.read_text()
        assert "TCP message received" in text
        assert "UDP message" not in text
        wait_until(
            "disconnected", lambda: call_state_of(b, "dial-tcp", "tcp-phone") == "disconnected" or None, timeout=10
        )
    finally:
        phones.stop_all()
        rpc(b, "conference.destroy", conferenceName="dial-tcp")


# The challenging proxy of test_dialout_phone, listening on TCP as well, logging each request it relays and
# each reply it receives.
TCP_PROXY_CFG = (
    PROXY_CFG.replace("listen=udp:127.0.0.1:{port}\n", "listen=udp:127.0.0.1:{port}\nlisten=tcp:127.0.0.1:{port}\n")
    .replace("request_route {{\n", 'request_route {{\n    xlog("L_INFO", "relaying $rm $ru from proto=$pr\\n");\n')
    .rstrip()
    + '\nonreply_route {{ xlog("L_INFO", "reply $rs to $rm from proto=$pr\\n"); }}\n'
)


@pytest.fixture
def tcp_proxy(tmp_path: Path) -> Iterator[Proxy]:
    port = free_port()
    with kamailio_proxy(tmp_path, TCP_PROXY_CFG, port, ready=lambda: _accepts(port)) as running:
        yield running


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def tcp_proxied(tmp_path: Path, tcp_proxy: Proxy) -> Iterator[Bridge]:
    env = calling_env(free_port())
    env["ADHOC_SIP__OUTBOUND_PROXY"] = f"sip:{HOST}:{tcp_proxy.port};transport=tcp"
    bridge = start_bridge(tmp_path / "data", env_overrides=env)
    try:
        wait_until("janus ready", lambda: "janus ready" in bridge.log_text() or None, timeout=30)
        yield bridge
    finally:
        bridge.stop()


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed (apt-get install baresip-core)")
def test_dial_out_through_an_outbound_proxy_on_tcp(tcp_proxied: Bridge, tcp_proxy: Proxy, tmp_path: Path) -> None:
    bridge = tcp_proxied
    add_credential(bridge)
    rpc(bridge, "conference.create", conferenceName="dial-proxy-tcp", numericId="7972")
    home = tmp_path / "phone"
    phone_port = phone_config(home, 2, 1000, auto_answer=True)
    with (home / "stdout.txt").open("wb") as out:
        phone = subprocess.Popen(
            ["baresip", "-f", str(home), "-t", "30"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        time.sleep(0.5)  # baresip binds its sockets
        rpc(
            bridge,
            "participant.add",
            conferenceName="dial-proxy-tcp",
            participantName="phone",
            participantProtocol="sip",
            address=f"sip:phone2@{HOST}:{phone_port};transport=tcp",
        )
        wait_until(
            "the phone answered",
            lambda: call_state_of(bridge, "dial-proxy-tcp", "phone") == "connected" or None,
            timeout=20,
        )
        _disconnect(bridge, "dial-proxy-tcp", "phone")
        wait_until(
            "the phone answered our BYE", lambda: "reply 200 to BYE" in tcp_proxy.log.read_text() or None, timeout=10
        )
        assert call_state_of(bridge, "dial-proxy-tcp", "phone") == "disconnected"
    finally:
        if phone.poll() is None:
            phone.kill()
            phone.wait()
        rpc(bridge, "conference.destroy", conferenceName="dial-proxy-tcp")
    relayed = tcp_proxy.log.read_text()
    assert "authenticated INVITE to sip:phone2@" in relayed  # the 407 challenge came and was answered over TCP
    for method in ("INVITE", "ACK", "BYE"):
        assert f"relaying {method} sip:phone2" in relayed
    hops = [line for line in relayed.splitlines() if "relaying " in line or "reply " in line]
    assert all(line.endswith("proto=tcp") for line in hops), relayed[-3000:]
