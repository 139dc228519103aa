"""The console with a plain HTTP client: sessions across restarts, escaping, headers, refusals."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.conftest import BridgeFactory
from tests.support.bridge import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    EXTERNAL_PASSWORD,
    EXTERNAL_USER,
    KNOWN_SECRETS,
    Bridge,
    auth,
)

OTHER_ADMIN_PASSWORD = "Other-Adm1n-pw"
KNOWN_SECRETS.add(OTHER_ADMIN_PASSWORD)
COOKIE = "__Host-adhoc_console"


def _sign_in(client: httpx.Client, password: str = ADMIN_PASSWORD) -> httpx.Response:
    form = client.get("/admin/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return client.post(
        "/admin/signin", data={"csrf_token": token.group(1), "username": ADMIN_USER, "password": password}
    )


def _signed_in_client(bridge: Bridge, password: str = ADMIN_PASSWORD) -> tuple[httpx.Client, str]:
    client = bridge.client()
    response = _sign_in(client, password)
    assert (response.status_code, response.headers["location"]) == (303, "/admin/global/")
    return client, client.cookies[COOKIE]


def test_sessions_survive_a_restart_but_not_a_changed_admin_password(
    bridge_factory: BridgeFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "sessions"
    first = bridge_factory(data_dir=data_dir)
    client, cookie = _signed_in_client(first)
    client.close()
    assert first.stop() == 0

    same = bridge_factory(data_dir=data_dir)
    with same.client(cookies={COOKIE: cookie}) as client:
        assert client.get("/admin/global/").status_code == 200
    assert same.stop() == 0

    changed = bridge_factory(data_dir=data_dir, env_overrides={"ADHOC_ADMIN__PASSWORD": OTHER_ADMIN_PASSWORD})
    with changed.client(cookies={COOKIE: cookie}) as client:
        response = client.get("/admin/global/")
        assert (response.status_code, response.headers["location"]) == (303, "/admin/signin")


def test_names_are_escaped_and_pages_carry_security_headers(bridge: Bridge) -> None:
    hostile = '<img src=x onerror="1">'
    with bridge.rpc() as proxy:
        proxy.conference.create(auth(conferenceName=hostile))
    client, _cookie = _signed_in_client(bridge)
    try:
        page = client.get("/admin/conferences/")
        assert page.status_code == 200
        assert hostile not in page.text
        assert "&lt;img src=x onerror=&#34;1&#34;&gt;" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        live = client.get("/admin/conferences.json").json()
        assert hostile in [conference["name"] for conference in live["conferences"]]
        assert client.get("/admin/sip-credentials/?realm=%01").status_code == 400
        as_json = client.post("/admin/global/", content=b"{}", headers={"content-type": "application/json"})
        assert as_json.status_code == 400
    finally:
        client.close()
    with bridge.rpc() as proxy:
        proxy.conference.destroy(auth(conferenceName=hostile))


def test_external_system_credentials_cannot_sign_in(bridge: Bridge) -> None:
    with bridge.client() as client:
        form = client.get("/admin/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        response = client.post(
            "/admin/signin",
            data={"csrf_token": token.group(1), "username": EXTERNAL_USER, "password": EXTERNAL_PASSWORD},
        )
        assert response.status_code == 401
        assert COOKIE not in client.cookies
        assert client.get("/admin/conferences.json").status_code == 401


def test_sip_credentials_are_listed_twenty_a_page(bridge: Bridge) -> None:
    with bridge.client() as api:
        for number in range(25):
            created = api.post(
                "/api/admin/configuration/v1/sip_credential/",
                auth=(ADMIN_USER, ADMIN_PASSWORD),
                json={"realm": f"page-{number:02d}", "username": "u", "password": "Paging-pw-1"},
            )
            assert created.status_code == 201
    client, _cookie = _signed_in_client(bridge)
    try:
        first = client.get("/admin/sip-credentials/")
        assert first.text.count('class="realm"') == 20
        assert "1–20 of 25" in first.text
        link = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert link is not None
        second = client.get(link.group(1).replace("&amp;", "&"))
        assert second.text.count('class="realm"') == 5
        assert "21–25 of 25" in second.text
        assert 'rel="next"' not in second.text
    finally:
        client.close()
