"""Process model: SIGTERM drains in-flight requests and exits 0; N workers share both ports; crash-loop guard."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import xmlrpc.client
from pathlib import Path

from tests.conftest import BridgeFactory
from tests.support.bridge import Bridge, auth


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def _wait_for_workers(bridge: Bridge, count: int) -> set[int]:
    deadline = time.monotonic() + 20
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < count:
        workers = _children(bridge.process.pid)
        time.sleep(0.2)
    assert len(workers) == count, workers
    return workers


def _open_slow_call(bridge: Bridge) -> ssl.SSLSocket:
    """Send headers and half of a /RPC2 body; the request stays in flight until the rest is sent."""
    context = ssl.create_default_context(cafile=str(bridge.cert_path))
    raw = socket.create_connection(("127.0.0.1", bridge.https_port), timeout=30)
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    body = xmlrpc.client.dumps((auth(),), "device.query").encode()
    head = (
        f"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    tls.sendall(head + body[: len(body) // 2])
    tls.rest = body[len(body) // 2 :]  # type: ignore[attr-defined]
    return tls


def _finish(tls: ssl.SSLSocket) -> bytes:
    tls.sendall(tls.rest)  # type: ignore[attr-defined]
    chunks = []
    while True:
        data = tls.recv(65536)
        if not data:
            break
        chunks.append(data)
        if b"</methodResponse>" in b"".join(chunks):
            break
    tls.close()
    return b"".join(chunks)


def test_sigterm_drains_an_in_flight_request_and_exits_0(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory()
    with bridge.rpc() as proxy:
        proxy.device.query(auth())  # warm the credential cache
    in_flight = _open_slow_call(bridge)
    time.sleep(0.5)
    os.kill(bridge.process.pid, signal.SIGTERM)
    time.sleep(1.0)
    assert bridge.process.poll() is None, "the server exited with a request in flight"
    reply = _finish(in_flight)
    assert reply.startswith(b"HTTP/1.1 200")
    assert b"<name>apiVersion</name>" in reply
    assert bridge.process.wait(timeout=30) == 0


def test_two_workers_serve_both_ports_and_exit_0(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(
        env_overrides={"ADHOC_SERVER__WORKERS": "2", "ADHOC_EXTERNAL_SYSTEM__ENABLE_HTTP_ACCESS": "true"}
    )
    workers = _wait_for_workers(bridge, 2)
    # Many concurrent connections on both ports: each is served, by either worker.
    for http in (False, True):
        for _ in range(10):
            with bridge.rpc(http=http) as proxy:
                reply = proxy.device.query(auth())
                assert isinstance(reply, dict)
                assert reply["apiVersion"] == "2.9"
    served_by = {
        int(line.split("[")[1].split("]")[0])
        for line in bridge.log_text().splitlines()
        if "Started server process" in line
    }
    assert served_by == workers
    assert bridge.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_workers_that_keep_dying_stop_the_service_with_status_1(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__WORKERS": "2"})
    killed: set[int] = set()
    deadline = time.monotonic() + 60
    while bridge.process.poll() is None and time.monotonic() < deadline:
        for pid in _children(bridge.process.pid) - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.05)
    assert bridge.process.wait(timeout=30) == 1
    assert len(killed) >= 5
    assert "workers keep dying; stopping the service" in bridge.log_text()


def _established_by(pid: int, port: int) -> int:
    """How many established connections to ``port`` the process ``pid`` holds (from ss)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in listing.splitlines() if f"pid={pid}," in line)


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(bridge_factory: BridgeFactory) -> None:
    """CUCM keeps its connections open: if one worker accepted the whole burst, the other would idle."""
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__WORKERS": "2"})
    workers = _wait_for_workers(bridge, 2)
    # Connect all at once (the kernel completes every handshake before a worker wakes), then use each.
    raw = [socket.create_connection(("127.0.0.1", bridge.https_port)) for _ in range(24)]
    context = bridge.ssl_context()
    connections = [context.wrap_socket(sock, server_hostname="127.0.0.1") for sock in raw]
    try:
        body = xmlrpc.client.dumps((auth(),), "device.query").encode()
        head = f"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        for connection in connections:
            connection.sendall(head + body)
            assert connection.recv(64).startswith(b"HTTP/1.1 200")
        held = {pid: _established_by(pid, bridge.https_port) for pid in workers}
        assert sum(held.values()) == len(connections), held
        assert all(count > 0 for count in held.values()), held
    finally:
        for connection in connections:
            connection.close()
    assert bridge.stop() == 0
