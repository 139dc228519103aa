"""``GET /api/admin/status/v1/registration/`` on the real service: admin Basic over HTTPS only, Pexip list shape,
paging, no secrets, and an empty list when registration is off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sip_registration.conftest import (
    REALM,
    SIP_PASSWORD,
    STATUS_PATH,
    Registrar,
    add_credential,
    admin,
    registrar_env,
    rpc,
    wait_state,
)
from tests.support.bridge import ADMIN_USER, Bridge, start_bridge


@pytest.fixture(scope="module")
def registering(tmp_path_factory: pytest.TempPathFactory, registrar: Registrar) -> Iterator[Bridge]:
    instance = start_bridge(tmp_path_factory.mktemp("sipreg-api"), env_overrides=registrar_env(registrar))
    yield instance
    instance.stop()


def test_registration_off_lists_nothing_and_conferences_still_work(bridge: Bridge) -> None:
    rpc(bridge, "conference.create", conferenceName="off-a", numericId="8001", registerWithSIPRegistrar=True)
    try:
        with admin(bridge) as client:
            response = client.get(STATUS_PATH)
        assert response.status_code == 200
        assert response.json() == {
            "meta": {"limit": 20, "offset": 0, "next": None, "previous": None, "total_count": 0},
            "objects": [],
        }
        # with sip.registrar unset the owner still holds the SIP socket (calls), but registers nothing
        assert "registering conference alias" not in bridge.log_text()
    finally:
        rpc(bridge, "conference.destroy", conferenceName="off-a")


@pytest.mark.parametrize(
    ("credentials", "status"),
    [(None, 401), ((ADMIN_USER, "wrong"), 401), (("someone", "Adm1n-S3cret-pw"), 401)],
)
def test_admin_credentials_required(bridge: Bridge, credentials: tuple[str, str] | None, status: int) -> None:
    with bridge.client(auth=credentials) as client:
        response = client.get(STATUS_PATH)
    assert response.status_code == status
    assert response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_plain_http_is_refused(bridge: Bridge) -> None:
    with bridge.client(http=True, auth=(ADMIN_USER, "Adm1n-S3cret-pw")) as client:
        response = client.get(STATUS_PATH)
    assert response.status_code == 403
    assert "HTTPS" in response.json()["error"]


@pytest.mark.parametrize("query", [{"limit": "-1"}, {"limit": "1001"}, {"offset": "x"}])
def test_bad_paging_is_a_400_naming_the_parameter(bridge: Bridge, query: dict[str, str]) -> None:
    with admin(bridge) as client:
        response = client.get(STATUS_PATH, params=query)
    assert response.status_code == 400
    assert response.json()["field"] == next(iter(query))


def test_lists_every_alias_with_state_realm_algorithm_and_pages(registering: Bridge) -> None:
    add_credential(registering)
    for index in range(3):
        rpc(
            registering,
            "conference.create",
            conferenceName=f"api-{index}",
            numericId=f"810{index}",
            registerWithSIPRegistrar=True,
        )
    for index in range(3):
        wait_state(registering, f"sip:810{index}@127.0.0.1", "registered")

    with admin(registering) as client:
        first = client.get(STATUS_PATH, params={"limit": 2})
        body = first.json()
        assert first.status_code == 200
        assert body["meta"] == {
            "limit": 2,
            "offset": 0,
            "next": f"{STATUS_PATH}?limit=2&offset=2",
            "previous": None,
            "total_count": 3,
        }
        assert [item["alias"] for item in body["objects"]] == ["sip:8100@127.0.0.1", "sip:8101@127.0.0.1"]
        item = body["objects"][0]
        assert item["state"] == "registered"
        assert item["realm"] == REALM
        assert item["algorithm"] == "MD5"
        assert item["conference_name"] == "api-0"
        second = client.get(body["meta"]["next"]).json()
    assert [item["alias"] for item in second["objects"]] == ["sip:8102@127.0.0.1"]
    assert second["meta"]["previous"] == f"{STATUS_PATH}?limit=2&offset=0"
    assert SIP_PASSWORD not in first.text
    assert "password" not in first.text.lower()
