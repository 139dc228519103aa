"""PATCH /api/admin/configuration/v1/global/: run-time external-system settings, pins, audit, restart, workers."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.raw_http import WorkerConnection
from tests.conftest import BridgeFactory
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, KNOWN_SECRETS, Bridge, auth, start_bridge
from tests.support.clients import post_rpc
from tests.support.postgres import fresh_schema_url

GLOBAL = "/api/admin/configuration/v1/global/"
ADMIN = (ADMIN_USER, ADMIN_PASSWORD)
FIELDS = ("legacy_api_username", "legacy_api_password", "legacy_api_http")
RUNTIME_USER = "cucm-Runtime"
FIRST_PASSWORD = "Runtime-First-pw 1"
SECOND_PASSWORD = "Runtime-Second-pw 2"
KNOWN_SECRETS.update({FIRST_PASSWORD, SECOND_PASSWORD})
# No external-system setting from the environment: all three fields are free to change at run time.
UNPINNED: dict[str, str | None] = {
    "ADHOC_EXTERNAL_SYSTEM__USERNAME": None,
    "ADHOC_EXTERNAL_SYSTEM__PASSWORD": None,
}


@pytest.fixture(scope="module")
def free_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    instance = start_bridge(tmp_path_factory.mktemp("runtime"), env_overrides=UNPINNED)
    yield instance
    instance.stop()


def _fault(bridge: Bridge, user: str, password: str, *, http: bool = False) -> int | None:
    reply = post_rpc("httpx", bridge, "device.query", auth(user, password), http=http)
    if reply.status != 200:
        return -reply.status
    return reply.fault_code


def test_unpinned_fields_change_at_run_time_and_the_password_is_write_only(free_bridge: Bridge) -> None:
    with free_bridge.client() as client:
        before = client.get(GLOBAL, auth=ADMIN).json()
        assert [before[f"{field}_pinned_by"] for field in FIELDS] == [None, None, None]
        assert before["legacy_api_password_configured"] is False
        assert _fault(free_bridge, RUNTIME_USER, FIRST_PASSWORD) == 15

        changed = client.patch(
            GLOBAL, auth=ADMIN, json={"legacy_api_username": RUNTIME_USER, "legacy_api_password": FIRST_PASSWORD}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["legacy_api_username"] == RUNTIME_USER
        assert changed.json()["legacy_api_password_configured"] is True
        assert _fault(free_bridge, RUNTIME_USER, FIRST_PASSWORD) is None

        assert client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_password": SECOND_PASSWORD}).status_code == 200
        assert _fault(free_bridge, RUNTIME_USER, FIRST_PASSWORD) == 15
        assert _fault(free_bridge, RUNTIME_USER, SECOND_PASSWORD) is None
        assert _fault(free_bridge, RUNTIME_USER.lower(), SECOND_PASSWORD) == 15

        body = client.get(GLOBAL, auth=ADMIN).text
    for secret in (FIRST_PASSWORD, SECOND_PASSWORD, "$argon2", "password_hash"):
        assert secret not in body
    audit = [line for line in free_bridge.log_text().splitlines() if "global settings changed" in line]
    assert len(audit) == 2
    for part in (ADMIN_USER, "legacy_api_password", "legacy_api_username"):
        assert part in audit[0]


def test_http_access_switches_on_and_off_at_run_time(free_bridge: Bridge) -> None:
    with free_bridge.client() as client:
        assert client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_password": SECOND_PASSWORD}).status_code == 200
        client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_username": RUNTIME_USER})
        assert _fault(free_bridge, RUNTIME_USER, SECOND_PASSWORD, http=True) == -403
        assert client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": True}).json()["legacy_api_http"] is True
        assert _fault(free_bridge, RUNTIME_USER, SECOND_PASSWORD, http=True) is None
        assert client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": None}).json()["legacy_api_http"] is False
        assert _fault(free_bridge, RUNTIME_USER, SECOND_PASSWORD, http=True) == -403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"legacy_api_http": "yes"}, "legacy_api_http"),
        ({"legacy_api_http": 1}, "legacy_api_http"),
        ({"legacy_api_username": ""}, "legacy_api_username"),
        ({"legacy_api_username": "a\nb"}, "legacy_api_username"),
        ({"legacy_api_username": "x" * 101}, "legacy_api_username"),
        ({"legacy_api_password": 12345}, "legacy_api_password"),
        ({"legacy_api_password": ""}, "legacy_api_password"),
        ({"legacy_api_usernme": "typo"}, "legacy_api_usernme"),
        ({"https_port": 1}, "https_port"),
    ],
)
def test_bad_values_are_400_naming_the_field_and_store_nothing(
    free_bridge: Bridge, payload: dict[str, object], field: str
) -> None:
    with free_bridge.client() as client:
        before = client.get(GLOBAL, auth=ADMIN).json()
        response = client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": True, **payload})
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field
        assert client.get(GLOBAL, auth=ADMIN).json() == before


def test_malformed_bodies_and_a_get_body_sent_back(free_bridge: Bridge) -> None:
    with free_bridge.client() as client:
        bad_json = client.patch(GLOBAL, auth=ADMIN, content=b"{nope", headers={"content-type": "application/json"})
        assert bad_json.status_code == 400
        assert client.patch(GLOBAL, auth=ADMIN, json=[1, 2]).status_code == 400
        assert client.patch(GLOBAL, json={"legacy_api_http": True}).status_code == 401
        current = client.get(GLOBAL, auth=ADMIN).json()
        assert client.patch(GLOBAL, auth=ADMIN, json=current).json() == current


def test_pinned_fields_are_409_naming_the_variable(bridge: Bridge) -> None:
    with bridge.client() as client:
        view = client.get(GLOBAL, auth=ADMIN).json()
        pinned = {field: view[f"{field}_pinned_by"] for field in FIELDS}
        assert pinned == {
            "legacy_api_username": "ADHOC_EXTERNAL_SYSTEM__USERNAME",
            "legacy_api_password": "ADHOC_EXTERNAL_SYSTEM__PASSWORD",
            "legacy_api_http": None,
        }
        for field in ("legacy_api_username", "legacy_api_password"):
            response = client.patch(GLOBAL, auth=ADMIN, json={field: "Whatever-1"})
            assert response.status_code == 409
            assert response.json()["field"] == field
            assert response.json()["pinned_by"] == pinned[field]
            assert pinned[field] in response.json()["error"]
        # An unpinned field still changes, and the pinned credentials still work.
        assert client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": True}).status_code == 200
    assert post_rpc("httpx", bridge, "device.query", auth(), http=True).result is not None
    with bridge.client() as client:
        client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": False})


def test_a_settings_toml_key_pins_and_names_the_file(bridge_factory: BridgeFactory, tmp_path: Path) -> None:
    toml = tmp_path / "pinned.toml"
    toml.write_text("[external_system]\nenable_http_access = true\n")
    bridge = bridge_factory(env_overrides={"ADHOC_SETTINGS_FILE": str(toml)})
    with bridge.client() as client:
        response = client.patch(GLOBAL, auth=ADMIN, json={"legacy_api_http": False})
    assert response.status_code == 409
    assert response.json()["pinned_by"] == f"{toml} external_system.enable_http_access"


def test_run_time_values_survive_a_restart(bridge_factory: BridgeFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / "persist"
    first = bridge_factory(data_dir=data_dir, env_overrides=UNPINNED)
    with first.client() as client:
        changes = {"legacy_api_username": RUNTIME_USER, "legacy_api_password": FIRST_PASSWORD}
        assert client.patch(GLOBAL, auth=ADMIN, json=changes).status_code == 200
    assert first.stop() == 0
    second = bridge_factory(data_dir=data_dir, env_overrides=UNPINNED)
    assert _fault(second, RUNTIME_USER, FIRST_PASSWORD) is None
    assert _fault(second, RUNTIME_USER, SECOND_PASSWORD) == 15


def _one_connection_per_worker(bridge: Bridge) -> list[WorkerConnection]:
    by_worker: dict[int, WorkerConnection] = {}
    spare: list[WorkerConnection] = []
    deadline = time.monotonic() + 20
    while len(by_worker) < 2 and time.monotonic() < deadline:
        connection = WorkerConnection(bridge)
        assert connection.json("GET", GLOBAL, basic=ADMIN)[0] == 200  # the worker has accepted it
        pid = connection.worker_pid()
        if pid is not None and pid not in by_worker:
            by_worker[pid] = connection
        else:
            spare.append(connection)
    for connection in spare:
        connection.close()
    assert len(by_worker) == 2, "could not reach both workers"
    return list(by_worker.values())


def test_a_change_is_seen_by_the_other_worker_within_two_seconds(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={**UNPINNED, "ADHOC_SERVER__WORKERS": "2"})
    writer, reader = _one_connection_per_worker(bridge)
    try:
        assert reader.json("GET", GLOBAL, basic=ADMIN)[1]["legacy_api_http"] is False
        status, _body = writer.json(
            "PATCH",
            GLOBAL,
            {"legacy_api_http": True, "legacy_api_username": RUNTIME_USER, "legacy_api_password": FIRST_PASSWORD},
            basic=ADMIN,
        )
        assert status == 200
        deadline = time.monotonic() + 2.0
        seen = False
        while not seen and time.monotonic() < deadline:
            view = reader.json("GET", GLOBAL, basic=ADMIN)[1]
            seen = view["legacy_api_http"] is True and view["legacy_api_username"] == RUNTIME_USER
            if not seen:
                time.sleep(0.05)
        assert seen, "the other worker did not apply the change within 2 s"
        call = xmlrpc.client.dumps((auth(RUNTIME_USER, FIRST_PASSWORD),), "device.query").encode()
        status, reply = reader.request("POST", "/RPC2", call, content_type="text/xml")
        assert status == 200
        assert b"<name>faultCode</name>" not in reply
    finally:
        writer.close()
        reader.close()


def test_a_change_on_one_instance_is_used_by_another_sharing_postgresql(bridge_factory: BridgeFactory) -> None:
    with fresh_schema_url("runtime_settings") as url:
        env = {**UNPINNED, "ADHOC_DATABASE__URL": url}
        first, second = bridge_factory(env_overrides=env), bridge_factory(env_overrides=env)
        try:
            with first.client() as client:
                changes = {"legacy_api_username": RUNTIME_USER, "legacy_api_password": SECOND_PASSWORD}
                assert client.patch(GLOBAL, auth=ADMIN, json=changes).status_code == 200
            deadline = time.monotonic() + 2.0
            seen = False
            with second.client() as client:
                while not seen and time.monotonic() < deadline:
                    seen = client.get(GLOBAL, auth=ADMIN).json()["legacy_api_password_configured"] is True
                    if not seen:
                        time.sleep(0.05)
            assert seen, "the other instance did not apply the change within 2 s"
            assert _fault(second, RUNTIME_USER, SECOND_PASSWORD) is None
            assert _fault(second, RUNTIME_USER, FIRST_PASSWORD) == 15
        finally:
            assert first.stop() == 0
            assert second.stop() == 0
