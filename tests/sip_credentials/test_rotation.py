"""``python -m app rotate-key`` while the service runs: readers never fail, and the old key is not needed after."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading

import pytest

from app.sip_credentials.keyring import keyring_path
from tests.conftest import BridgeFactory
from tests.sip_credentials.conftest import admin_client, create, database_file, local_service
from tests.support.bridge import REPO_ROOT, SIP_TEST_MASTER_KEY, SIP_TEST_PASSWORDS, Bridge

PASSWORDS = SIP_TEST_PASSWORDS


def _key_ids(bridge: Bridge) -> list[str]:
    return [entry["id"] for entry in json.loads(keyring_path(bridge.data_dir).read_text())["keys"]]


def _row_key_ids(bridge: Bridge) -> set[str]:
    with sqlite3.connect(database_file(bridge)) as db:
        found = {row[0] for row in db.execute("SELECT key_id FROM sip_credential")}
    db.close()
    return found


def _rotate(bridge: Bridge) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "rotate-key"],
        cwd=REPO_ROOT,
        env=bridge.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("master", [None, SIP_TEST_MASTER_KEY], ids=["plain-keyring", "master-key"])
async def test_rotation_under_load_then_the_old_key_is_not_needed(
    bridge_factory: BridgeFactory, master: str | None
) -> None:
    env = {"ADHOC_SERVER__WORKERS": "2"} | ({"ADHOC_SECRETS__ENCRYPTION_KEY": master} if master else {})
    bridge = bridge_factory(env_overrides=env)
    if master:
        assert '"wrapped"' in keyring_path(bridge.data_dir).read_text()
        assert master not in keyring_path(bridge.data_dir).read_text()
    with admin_client(bridge) as api:
        items = [create(api, f"rot-{n}.example", f"user{n}", PASSWORDS[n % len(PASSWORDS)]) for n in range(30)]
    (old_key,) = _key_ids(bridge)
    assert _row_key_ids(bridge) == {old_key}

    # Readers hammer item GETs (each decrypts the row) while the rotation runs.
    failures: list[str] = []
    stop = threading.Event()

    def read_continuously() -> None:
        with admin_client(bridge) as reader:
            while not stop.is_set():
                for item in items[::5]:
                    response = reader.get(str(item["resource_uri"]))
                    if response.status_code != 200:
                        failures.append(response.text)

    readers = [threading.Thread(target=read_continuously) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        result = _rotate(bridge)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert result.returncode == 0, result.stderr
    (new_key,) = _key_ids(bridge)
    assert new_key != old_key
    assert f"new key {new_key}: re-encrypted 30 credential(s), retired key(s) {old_key}" in result.stdout
    assert failures == []
    assert _row_key_ids(bridge) == {new_key}

    # The running workers keep reading and writing (a rename re-seals under the new key).
    with admin_client(bridge) as api:
        assert api.patch(str(items[0]["resource_uri"]), json={"username": "renamed"}).status_code == 200
        create(api, "after-rotation.example", "late", PASSWORDS[0])
    assert _row_key_ids(bridge) == {new_key}

    # A fresh keyring load (what any new process gets) holds only the new key, and it reads every row.
    async with local_service(bridge) as service:
        assert service.keyring.key_ids == [new_key]
        for n, item in enumerate(items[1:], start=1):
            expected = (f"user{n}", PASSWORDS[n % len(PASSWORDS)])
            assert await service.credential_for(str(item["realm"])) == expected
        assert await service.credential_for("rot-0.example") == ("renamed", PASSWORDS[0])
        assert await service.credential_for("after-rotation.example") == ("late", PASSWORDS[0])
    for password in PASSWORDS:
        assert password not in result.stdout + result.stderr


def test_rotation_reports_rows_it_cannot_decrypt(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory()
    with admin_client(bridge) as api:
        good = create(api, "good.example", "g", PASSWORDS[0])
        bad = create(api, "bad.example", "b", PASSWORDS[1])
    with sqlite3.connect(database_file(bridge)) as db:
        db.execute("UPDATE sip_credential SET realm = 'tampered.example' WHERE id = ?", (bad["id"],))
    db.close()
    result = _rotate(bridge)
    assert result.returncode == 1
    assert f"credential(s) {bad['id']} could not be decrypted" in result.stderr
    with admin_client(bridge) as api:
        assert api.get(str(good["resource_uri"])).status_code == 200
        assert api.get(str(bad["resource_uri"])).status_code == 409
