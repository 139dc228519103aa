"""At rest and at lookup: the database never holds a password in clear, moved ciphertexts fail loudly but
safely, and ``credential_for`` sees every change made through any worker at once."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BridgeFactory
from tests.sip_credentials.conftest import COLLECTION, admin_client, create, database_file, delete_all, local_service
from tests.support.bridge import SIP_TEST_PASSWORDS, Bridge

ALPHA, BRAVO, UNICODE, CHARLIE, DELTA = SIP_TEST_PASSWORDS


@pytest.fixture
def client(bridge: Bridge) -> Iterator[httpx.Client]:
    with admin_client(bridge) as api:
        delete_all(api)
        yield api


def _stored_bytes(bridge: Bridge) -> bytes:
    path = database_file(bridge)
    return b"".join(
        candidate.read_bytes() for candidate in (path, path.with_name(path.name + "-wal")) if candidate.exists()
    )


def test_database_files_never_hold_a_password_in_clear(client: httpx.Client, bridge: Bridge) -> None:
    uri = str(create(client, "cleartext.example", "scan-user", ALPHA)["resource_uri"])
    client.patch(uri, json={"password": UNICODE})
    client.put(uri, json={"realm": "Cleartext.example", "username": "scan-user", "password": BRAVO})
    stored = _stored_bytes(bridge)
    assert b"Cleartext.example" in stored  # the scan does see what the rows hold
    for password in (ALPHA, UNICODE, BRAVO):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert password.encode(encoding) not in stored, (password, encoding)


async def test_a_ciphertext_copied_into_another_row_does_not_decrypt(
    client: httpx.Client, bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    donor = create(client, "donor.example", "donor", CHARLIE)
    victim = create(client, "victim.example", "victim", DELTA)
    with sqlite3.connect(database_file(bridge)) as db:
        key_id, blob = db.execute(
            "SELECT key_id, password_sealed FROM sip_credential WHERE id = ?", (donor["id"],)
        ).fetchone()
        db.execute(
            "UPDATE sip_credential SET key_id = ?, password_sealed = ? WHERE id = ?", (key_id, blob, victim["id"])
        )
    db.close()

    response = client.get(str(victim["resource_uri"]))
    assert response.status_code == 409
    assert response.json()["field"] == "password"
    assert response.json()["id"] == victim["id"]
    assert "cannot be decrypted" in response.json()["error"]
    assert client.get(str(donor["resource_uri"])).status_code == 200
    moved = client.patch(str(victim["resource_uri"]), json={"username": "renamed"})
    assert (moved.status_code, moved.json()["field"]) == (409, "password")

    async with local_service(bridge) as service:
        with caplog.at_level(logging.ERROR):
            assert await service.credential_for("victim.example") is None
        assert await service.credential_for("donor.example") == ("donor", CHARLIE)
        errors = [record for record in caplog.records if record.levelno == logging.ERROR]
        assert len(errors) == 1
        assert errors[0].__dict__["realm"] == "victim.example"
        logged = caplog.text + str(errors[0].__dict__)
        assert CHARLIE not in logged
        assert DELTA not in logged

        # The operator's fix: set the password again.
        assert client.patch(str(victim["resource_uri"]), json={"password": DELTA}).status_code == 200
        assert client.get(str(victim["resource_uri"])).status_code == 200
        assert await service.credential_for("victim.example") == ("victim", DELTA)


async def test_a_row_edited_behind_the_api_does_not_decrypt(client: httpx.Client, bridge: Bridge) -> None:
    item = create(client, "edited.example", "edited", ALPHA)
    with sqlite3.connect(database_file(bridge)) as db:
        db.execute("UPDATE sip_credential SET username = 'mallory' WHERE id = ?", (item["id"],))
    db.close()
    assert client.get(str(item["resource_uri"])).status_code == 409
    async with local_service(bridge) as service:
        assert await service.credential_for("edited.example") is None


async def test_changes_through_any_worker_are_used_by_the_next_lookup(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__WORKERS": "2"})
    with admin_client(bridge) as api:
        uri = str(create(api, "workers.example", "w0", ALPHA)["resource_uri"])
        async with local_service(bridge) as service:
            assert await service.credential_for("workers.example") == ("w0", ALPHA)
            # Many changes, each through whichever worker accepts the connection; each one is seen at once.
            for n in range(12):
                password = (BRAVO, UNICODE, CHARLIE)[n % 3]
                with admin_client(bridge) as fresh:  # a new connection, so a worker chosen afresh
                    assert fresh.patch(uri, json={"username": f"w{n + 1}", "password": password}).status_code == 200
                assert await service.credential_for("workers.example") == (f"w{n + 1}", password)
            assert api.delete(uri).status_code == 204
            assert await service.credential_for("workers.example") is None


async def test_lookup_refuses_realms_that_cannot_be_stored(bridge: Bridge) -> None:
    async with local_service(bridge) as service:
        for realm in ("", "a\x00b", "x" * 251, "\ud800"):
            assert await service.credential_for(realm) is None


def test_list_total_matches_rows(client: httpx.Client) -> None:
    for n in range(3):
        create(client, f"count-{n}", "u", ALPHA)
    assert client.get(COLLECTION).json()["meta"]["total_count"] == 3
