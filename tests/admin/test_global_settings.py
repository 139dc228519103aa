"""Management credentials are separate from the external system's; the global settings hold no secret."""

from __future__ import annotations

from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, EXTERNAL_PASSWORD, EXTERNAL_USER, Bridge, auth
from tests.support.clients import post_rpc

GLOBAL = "/api/admin/configuration/v1/global/"


def test_global_settings_in_pexip_names_without_secrets(bridge: Bridge) -> None:
    with bridge.client() as client:
        response = client.get(GLOBAL, auth=(ADMIN_USER, ADMIN_PASSWORD))
    assert response.status_code == 200
    body = response.json()
    assert body["legacy_api_username"] == EXTERNAL_USER
    assert body["legacy_api_http"] is False
    assert body["legacy_api_password_configured"] is True
    assert body["admin_username"] == ADMIN_USER
    assert body["https_port"] == bridge.https_port
    text = response.text
    for secret in (EXTERNAL_PASSWORD, ADMIN_PASSWORD, "$argon2", "password_hash", 'legacy_api_password"'):
        assert secret not in text


def test_http_access_flag_is_reported(http_bridge: Bridge) -> None:
    with http_bridge.client() as client:
        assert client.get(GLOBAL, auth=(ADMIN_USER, ADMIN_PASSWORD)).json()["legacy_api_http"] is True


def test_external_credentials_get_401_on_the_management_api(bridge: Bridge) -> None:
    with bridge.client() as client:
        for credentials in ((EXTERNAL_USER, EXTERNAL_PASSWORD), (ADMIN_USER, EXTERNAL_PASSWORD), None):
            response = client.get(GLOBAL, auth=credentials) if credentials else client.get(GLOBAL)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic ")
            assert "error" in response.json()


def test_admin_credentials_are_refused_on_rpc2(bridge: Bridge) -> None:
    in_body = post_rpc("xmlrpc", bridge, "device.query", auth(ADMIN_USER, ADMIN_PASSWORD))
    assert (in_body.status, in_body.fault_code) == (200, 15)
    basic = post_rpc("curl", bridge, "device.query", {}, basic=(ADMIN_USER, ADMIN_PASSWORD))
    assert basic.status == 401
    assert basic.fault_code == 15


def test_admin_username_is_case_sensitive(bridge: Bridge) -> None:
    with bridge.client() as client:
        assert client.get(GLOBAL, auth=(ADMIN_USER.lower(), ADMIN_PASSWORD)).status_code == 401
        assert client.get(GLOBAL, auth=(ADMIN_USER, ADMIN_PASSWORD.swapcase())).status_code == 401
