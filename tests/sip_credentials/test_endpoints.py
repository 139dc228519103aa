"""The Pexip-style resource over real HTTPS: CRUD, paging, filtering, case-sensitive realms, errors, auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.sip_credentials.validation import PASSWORD_MAX, REALM_MAX, USERNAME_MAX
from tests.sip_credentials.conftest import COLLECTION, admin_client, create, delete_all, local_service
from tests.support.bridge import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    EXTERNAL_PASSWORD,
    EXTERNAL_USER,
    SIP_TEST_PASSWORDS,
    Bridge,
)

ALPHA, BRAVO, UNICODE, CHARLIE, _ = SIP_TEST_PASSWORDS
SEEN: list[str] = []  # every response body and header this module received


def _record(response: httpx.Response) -> None:
    response.read()
    SEEN.append(response.text + str(response.headers))


@pytest.fixture
def client(bridge: Bridge) -> Iterator[httpx.Client]:
    with admin_client(bridge, event_hooks={"response": [_record]}) as api:
        delete_all(api)
        yield api


def test_crud_round_trip(client: httpx.Client, bridge: Bridge) -> None:
    created = client.post(COLLECTION, json={"realm": "Example.COM", "username": "alice", "password": ALPHA})
    assert created.status_code == 201
    item = created.json()
    uri = f"{COLLECTION}{item['id']}/"
    assert item == {"id": item["id"], "realm": "Example.COM", "username": "alice", "resource_uri": uri}
    assert created.headers["location"] == f"{bridge.https_url}{uri}"

    assert client.get(uri).json() == item
    replaced = client.put(uri, json={"realm": "Example.COM", "username": "bob", "password": BRAVO})
    assert replaced.status_code == 200
    assert replaced.json()["username"] == "bob"
    patched = client.patch(uri, json={"username": "carol"})
    assert patched.json() == {**item, "username": "carol"}

    assert client.delete(uri).status_code == 204
    assert client.get(uri).status_code == 404
    assert client.delete(uri).json() == {"error": "no such sip credential"}


async def test_patch_without_password_keeps_it_and_put_can_change_it(client: httpx.Client, bridge: Bridge) -> None:
    uri = str(create(client, "keep.example", "dave", UNICODE)["resource_uri"])
    assert client.patch(uri, json={"realm": "Keep.Example", "username": "Dave"}).status_code == 200
    async with local_service(bridge) as service:
        assert await service.credential_for("Keep.Example") == ("Dave", UNICODE)
        assert await service.credential_for("keep.example") is None
        assert client.put(uri, json={"realm": "Keep.Example", "username": "Dave", "password": CHARLIE}).is_success
        assert await service.credential_for("Keep.Example") == ("Dave", CHARLIE)


async def test_realms_differing_in_case_or_spacing_live_side_by_side(client: httpx.Client, bridge: Bridge) -> None:
    realms = {"Example.COM": ALPHA, "example.com": BRAVO, " example.com": UNICODE, "exämple.com": CHARLIE}
    ids = {
        realm: create(client, realm, f"user-{n}", password)["id"] for n, (realm, password) in enumerate(realms.items())
    }
    assert len(set(ids.values())) == 4
    for realm in realms:
        found = client.get(COLLECTION, params={"realm": realm}).json()
        assert [item["realm"] for item in found["objects"]] == [realm]
        assert found["meta"]["total_count"] == 1
    assert client.get(COLLECTION, params={"realm": "EXAMPLE.COM"}).json()["objects"] == []
    async with local_service(bridge) as service:
        for n, (realm, password) in enumerate(realms.items()):
            assert await service.credential_for(realm) == (f"user-{n}", password)
        assert await service.credential_for("EXAMPLE.COM") is None
        assert await service.credential_for("example.com ") is None


def test_list_pages_like_pexip(client: httpx.Client) -> None:
    for n in range(25):
        create(client, f"realm-{n:02}", "u", ALPHA)
    first = client.get(COLLECTION).json()
    assert first["meta"] == {
        "limit": 20,
        "offset": 0,
        "next": f"{COLLECTION}?limit=20&offset=20",
        "previous": None,
        "total_count": 25,
    }
    assert [item["realm"] for item in first["objects"]] == [f"realm-{n:02}" for n in range(20)]
    second = client.get(first["meta"]["next"]).json()
    assert [item["realm"] for item in second["objects"]] == [f"realm-{n:02}" for n in range(20, 25)]
    assert second["meta"]["next"] is None
    assert second["meta"]["previous"] == f"{COLLECTION}?limit=20&offset=0"
    middle = client.get(COLLECTION, params={"limit": 5, "offset": 7}).json()
    assert [item["realm"] for item in middle["objects"]] == [f"realm-{n:02}" for n in range(7, 12)]
    assert middle["meta"]["previous"] == f"{COLLECTION}?limit=5&offset=2"
    assert len(client.get(COLLECTION, params={"limit": 0}).json()["objects"]) == 25
    beyond = client.get(COLLECTION, params={"offset": 100}).json()
    assert beyond["objects"] == []
    assert beyond["meta"]["total_count"] == 25
    filtered = client.get(COLLECTION, params={"realm": "realm-03", "limit": 1}).json()
    assert [item["realm"] for item in filtered["objects"]] == ["realm-03"]
    assert filtered["meta"]["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"offset": 2**40}, "offset"),
        ({"realm": "x" * (REALM_MAX + 1)}, "realm"),
        ({"realm": "a\x01b"}, "realm"),
        ({"realm": ""}, "realm"),
    ],
)
def test_bad_list_parameters_are_named(client: httpx.Client, params: dict[str, str | int], field: str) -> None:
    response = client.get(COLLECTION, params=params)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"] == f"invalid value for {field}"


VALID = {"realm": "valid.example", "username": "user", "password": ALPHA}
LIMITS = {"realm": REALM_MAX, "username": USERNAME_MAX, "password": PASSWORD_MAX}
BAD_VALUES: list[tuple[str, object]] = [
    (field, value)
    for field in ("realm", "username", "password")
    for value in (
        "",
        "x" * (LIMITS[field] + 1),
        "a\x00b",
        "tab\there",
        "new\nline",
        "del\x7f",
        "c1\x85",
        42,
        None,
        ["x"],
    )
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_field_values_are_refused_by_name(client: httpx.Client, field: str, value: object) -> None:
    for method, uri in (("POST", COLLECTION), ("PUT", "{item}"), ("PATCH", "{item}")):
        item = client.get(COLLECTION, params={"realm": "victim.example"}).json()["objects"]
        target = item[0]["resource_uri"] if item else create(client, "victim.example", "v", BRAVO)["resource_uri"]
        body = {**VALID, field: value}
        if method == "PATCH" and value is None and field == "password":
            continue  # PATCH/PUT with "password": null keeps the stored one
        if method == "PUT" and value is None and field == "password":
            continue
        response = client.request(method, uri.format(item=target), json=body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()["field"] == field, (method, response.text)
        assert response.json()["error"] == f"invalid value for {field}"
    assert client.get(COLLECTION, params={"realm": "valid.example"}).json()["objects"] == []


def test_longest_values_are_accepted_exactly(client: httpx.Client) -> None:
    realm, username, password = "R" * REALM_MAX, "u" * USERNAME_MAX, "p" * PASSWORD_MAX
    item = create(client, realm, username, password)
    assert item["realm"] == realm
    assert item["username"] == username


def test_missing_fields_and_malformed_bodies(client: httpx.Client) -> None:
    for missing in ("realm", "username", "password"):
        body = {key: value for key, value in VALID.items() if key != missing}
        response = client.post(COLLECTION, json=body)
        assert (response.status_code, response.json()["field"]) == (400, missing)
    uri = str(create(client, "put.example", "u", ALPHA)["resource_uri"])
    assert client.put(uri, json={"realm": "put.example"}).json()["field"] == "username"
    headers = {"content-type": "application/json"}
    for raw in (b'{"realm": "x", ', b"\xff\xfe", b"not json"):
        response = client.post(COLLECTION, content=raw, headers=headers)
        assert response.status_code == 400
        assert response.json() == {"error": "malformed JSON body", "field": "body"}
    assert client.post(COLLECTION, json=["a", "list"]).status_code == 400
    assert client.patch(uri, json={"realm": None}).json()["field"] == "realm"


def test_duplicate_realm_is_refused_by_name(client: httpx.Client) -> None:
    create(client, "dup.example", "u", ALPHA)
    other = create(client, "Dup.example", "u", ALPHA)
    response = client.post(COLLECTION, json={**VALID, "realm": "dup.example"})
    assert response.status_code == 400
    assert response.json() == {"error": "a sip credential for this realm already exists", "field": "realm"}
    moved = client.patch(str(other["resource_uri"]), json={"realm": "dup.example"})
    assert (moved.status_code, moved.json()["field"]) == (400, "realm")
    assert client.patch(str(other["resource_uri"]), json={"realm": "Dup.example"}).status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_unknown_and_malformed_ids(client: httpx.Client, method: str) -> None:
    body = VALID if method in ("PUT", "PATCH") else None
    assert client.request(method, f"{COLLECTION}999999/", json=body).status_code == 404
    for bad in ("abc", "0", "-1", str(2**64)):
        response = client.request(method, f"{COLLECTION}{bad}/", json=body)
        assert (response.status_code, response.json()["field"]) == (400, "id")


def test_unknown_members_are_ignored_so_objects_can_be_put_back(client: httpx.Client) -> None:
    item = create(client, "roundtrip.example", "u", ALPHA)
    again = client.put(str(item["resource_uri"]), json={**item, "id": 12345, "username": "v"})
    assert again.status_code == 200
    assert again.json() == {**item, "username": "v"}


def test_admin_credentials_are_required(bridge: Bridge) -> None:
    with bridge.client() as anonymous:
        response = anonymous.get(COLLECTION)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
    for user, password in (
        (EXTERNAL_USER, EXTERNAL_PASSWORD),
        (ADMIN_USER, EXTERNAL_PASSWORD),
        ("admin", ADMIN_PASSWORD),
    ):
        with bridge.client(auth=(user, password)) as other:
            assert other.get(COLLECTION).status_code == 401
            assert other.post(COLLECTION, json=VALID).status_code == 401


def test_refused_over_http_even_with_http_access_enabled(http_bridge: Bridge) -> None:
    with http_bridge.client(http=True, auth=(ADMIN_USER, ADMIN_PASSWORD)) as plain:
        for method, path in (
            ("GET", COLLECTION),
            ("POST", COLLECTION),
            ("GET", f"{COLLECTION}1/"),
            ("DELETE", f"{COLLECTION}1/"),
        ):
            response = plain.request(method, path, json=VALID if method == "POST" else None)
            assert response.status_code == 403
            assert response.json() == {"error": "the management API is served over HTTPS only"}
        for path in ("/api/admin/openapi.json", "/api/admin/docs"):
            assert plain.get(path).status_code == 403
    with admin_client(http_bridge) as secure:
        assert secure.get(COLLECTION).status_code == 200


def test_openapi_documents_password_as_write_only(bridge: Bridge) -> None:
    with bridge.client() as anonymous:
        assert anonymous.get("/api/admin/docs").status_code == 200
        document = anonymous.get("/api/admin/openapi.json").json()
    schemas = document["components"]["schemas"]
    for name in ("SipCredentialCreate", "SipCredentialReplace", "SipCredentialPatch"):
        password = schemas[name]["properties"]["password"]
        variants = password.get("anyOf", [password])
        assert any(variant.get("writeOnly") is True for variant in [password, *variants]), name
        assert "example" not in str(password).lower(), name
    assert "password" not in schemas["SipCredentialOut"]["properties"]
    assert "SipCredentialList" in schemas
    paths = document["paths"]
    assert set(paths[COLLECTION]) >= {"get", "post"}
    assert set(paths[f"{COLLECTION}{{id}}/"]) >= {"get", "put", "patch", "delete"}


def test_passwords_never_left_the_server(bridge: Bridge) -> None:
    """Runs last in this module: no response body or header, and no server log line, held a password."""
    assert len(SEEN) > 50
    for password in SIP_TEST_PASSWORDS:
        assert not [text for text in SEEN if password in text]
        assert password not in bridge.log_text()
    assert "adhoc.audit" in bridge.log_text()
