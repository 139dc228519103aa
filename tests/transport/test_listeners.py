"""Two listeners: TLS decided by the socket (or a trusted proxy), admin API HTTPS-only, TLS 1.2 minimum."""

from __future__ import annotations

import socket
import ssl
import stat
import subprocess
import warnings
import xmlrpc.client

import httpx
import pytest

from tests.conftest import BridgeFactory
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, Bridge, auth
from tests.support.clients import curl_post, post_rpc

SPOOF = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def test_healthz_on_both_listeners_without_auth(bridge: Bridge) -> None:
    for http in (False, True):
        with bridge.client(http=http) as client:
            response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_spoofed_forwarded_proto_from_an_untrusted_peer_is_ignored(bridge: Bridge) -> None:
    reply = post_rpc("httpx", bridge, "device.query", auth(), http=True, headers=SPOOF)
    assert reply.status == 403
    with bridge.client(http=True) as client:
        admin = client.get("/api/admin/configuration/v1/global/", auth=(ADMIN_USER, ADMIN_PASSWORD), headers=SPOOF)
    assert admin.status_code == 403
    assert "peer=203.0.113.9" not in bridge.log_text()


def test_forwarded_proto_from_a_trusted_proxy_is_honoured(bridge_factory: BridgeFactory) -> None:
    proxied = bridge_factory(env_overrides={"ADHOC_SERVER__TRUSTED_PROXIES": "127.0.0.1"})
    reply = post_rpc("curl", proxied, "device.query", auth(), http=True, headers=SPOOF)
    assert reply.status == 200
    assert reply.result is not None
    # The proxy saying "http" makes the HTTPS listener treat the request as plain HTTP.
    downgraded = post_rpc("httpx", proxied, "device.query", auth(), headers={"X-Forwarded-Proto": "http"})
    assert downgraded.status == 403
    # Without the header the listener decides.
    assert post_rpc("httpx", proxied, "device.query", auth(), http=True).status == 403
    assert "peer=203.0.113.9" in proxied.log_text()


@pytest.mark.parametrize(
    "path", ["/api/admin/configuration/v1/global/", "/api/admin/docs", "/api/admin/openapi.json", "/api/admin"]
)
@pytest.mark.parametrize("http_access", [False, True])
def test_management_api_is_never_served_over_http(request: pytest.FixtureRequest, path: str, http_access: bool) -> None:
    bridge: Bridge = request.getfixturevalue("http_bridge" if http_access else "bridge")
    with bridge.client(http=True) as client:
        response = client.get(path, auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert response.status_code == 403
    assert response.json() == {"error": "the management API is served over HTTPS only"}


def test_management_docs_are_served_over_https(bridge: Bridge) -> None:
    with bridge.client() as client:
        assert client.get("/api/admin/openapi.json").status_code == 200


def _tls_handshake(bridge: Bridge, version: ssl.TLSVersion) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(bridge.cert_path))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer old protocols at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 is deprecated: that is the point
        context.minimum_version = version
        context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", bridge.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return str(tls.version())


def test_tls_1_2_is_accepted_and_1_1_refused(bridge: Bridge) -> None:
    assert _tls_handshake(bridge, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _tls_handshake(bridge, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises(ssl.SSLError) as refused:
        _tls_handshake(bridge, ssl.TLSVersion.TLSv1_1)
    # Refused by the server (an alert or a closed connection), not a client that could not offer TLS 1.1.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)
    assert isinstance(refused.value, ssl.SSLEOFError) or "ALERT_PROTOCOL_VERSION" in str(refused.value)


def test_curl_with_tls_1_1_max_is_refused(bridge: Bridge) -> None:
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            str(bridge.cert_path),
            "--tls-max",
            "1.1",
            "--tlsv1.1",
            f"{bridge.https_url}/healthz",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0


def test_generated_key_is_0600_and_the_pair_is_reused_across_restarts(bridge_factory: BridgeFactory) -> None:
    first = bridge_factory()
    key_path = first.data_dir / "tls-key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert_before, key_before = first.cert_path.read_bytes(), key_path.read_bytes()
    assert first.stop() == 0
    second = bridge_factory(data_dir=first.data_dir)
    assert second.cert_path.read_bytes() == cert_before
    assert key_path.read_bytes() == key_before
    # The restarted server really serves that certificate: verification against the old file passes.
    with second.client() as client:
        assert client.get("/healthz").status_code == 200
    assert "generated a self-signed certificate" not in second.log_text()


def test_https_client_without_the_generated_cert_is_not_trusted(bridge: Bridge) -> None:
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=bridge.https_url) as client:
        client.get("/healthz")


def test_curl_over_https_verifies_the_generated_cert(bridge: Bridge) -> None:
    call = xmlrpc.client.dumps(({},), "device.query").encode()
    reply = curl_post(bridge, f"{bridge.https_url}/RPC2", call)
    assert reply.status == 401
