"""One access line per request with the XML-RPC details; auth failures name peer and user, never a password."""

from __future__ import annotations

import json
import socket

from tests.conftest import BridgeFactory
from tests.support.bridge import EXTERNAL_PASSWORD, EXTERNAL_USER, KNOWN_SECRETS, auth
from tests.support.clients import post_rpc

WRONG_PASSWORD = "Wrong-pw-for-log-4471"
KNOWN_SECRETS.add(WRONG_PASSWORD)


def test_json_log_lines_carry_method_outcome_fault_latency_and_peer(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json", "ADHOC_LOG__LEVEL": "info"})
    assert post_rpc("httpx", bridge, "device.query", auth()).result is not None
    assert post_rpc("httpx", bridge, "device.nope", auth()).fault_code == 1
    assert post_rpc("httpx", bridge, "device.query", auth(password=WRONG_PASSWORD)).fault_code == 15
    assert post_rpc("httpx", bridge, "device.query", {}, basic=(EXTERNAL_USER, WRONG_PASSWORD)).status == 401
    assert bridge.stop() == 0

    records = [json.loads(line) for line in bridge.log_text().splitlines() if line.strip()]  # every line is JSON
    rpc_lines = [record for record in records if record.get("logger") == "adhoc.access" and record["path"] == "/RPC2"]
    assert [(r["rpc_method"], r["outcome"], r["fault"], r["status"]) for r in rpc_lines] == [
        ("device.query", "ok", 0, 200),
        ("device.nope", "fault", 1, 200),
        ("device.query", "denied", 15, 200),
        ("-", "denied", 15, 401),
    ]
    for record in rpc_lines:
        assert record["http_method"] == "POST"
        assert record["peer"] == "127.0.0.1"
        assert isinstance(record["latency_ms"], float | int)
    failures = [record for record in records if record["msg"] == "external-system authentication failed"]
    assert [(r["carrier"], r["user"], r["peer"]) for r in failures] == [
        ("body", EXTERNAL_USER, "127.0.0.1"),
        ("basic", EXTERNAL_USER, "127.0.0.1"),
    ]
    text = bridge.log_text()
    assert WRONG_PASSWORD not in text
    assert EXTERNAL_PASSWORD not in text


def test_a_client_gone_mid_body_is_logged_and_the_server_keeps_serving(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_LOG__FORMAT": "json", "ADHOC_LOG__LEVEL": "info"})
    body = b"<methodCall><methodName>device.query</methodName>" + b" " * 4096
    with (
        socket.create_connection(("127.0.0.1", bridge.https_port)) as raw,
        bridge.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        head = f"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body) * 2}\r\n\r\n"
        tls.sendall(head.encode() + body)
    assert post_rpc("httpx", bridge, "device.query", auth()).result is not None
    assert bridge.stop() == 0

    records = [json.loads(line) for line in bridge.log_text().splitlines() if line.strip()]
    outcomes = [(record["outcome"], record["status"]) for record in records if record.get("path") == "/RPC2"]
    assert outcomes == [("disconnected", "-"), ("ok", 200)]  # nothing was sent to the client that left
    assert [record for record in records if record["level"] in ("error", "critical")] == []
