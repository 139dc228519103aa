"""Conferences at a real registrar (Kamailio), end to end: XML-RPC over HTTPS on the real service, the REGISTER
flows the registrar logs, its location table (``kamcmd ul.dump``), and the admin status endpoint."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sip_registration.reconciler import ABANDONED_REASON
from tests.conftest import BridgeFactory
from tests.sip_registration.conftest import (
    REALM,
    Registrar,
    add_credential,
    delete_credential,
    registrar_env,
    rpc,
    statuses,
    wait_state,
    wait_until,
)
from tests.support.bridge import Bridge, start_bridge


def alias(number: str) -> str:
    return f"sip:{number}@127.0.0.1"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, registrar: Registrar) -> Iterator[Bridge]:
    """Two workers share the listeners and the database; only the lease owner may talk to the registrar."""
    instance = start_bridge(
        tmp_path_factory.mktemp("sipreg"), env_overrides=registrar_env(registrar, ADHOC_SERVER__WORKERS="2")
    )
    yield instance
    instance.stop()


@pytest.fixture
def credential(two_workers: Bridge) -> Iterator[str]:
    uri = add_credential(two_workers)
    yield uri
    delete_credential(two_workers, uri)


def test_create_registers_in_one_flow_and_destroy_unregisters(
    two_workers: Bridge, registrar: Registrar, credential: str
) -> None:
    started = time.monotonic()
    rpc(two_workers, "conference.create", conferenceName="reg-a", numericId="7002", registerWithSIPRegistrar=True)
    assert time.monotonic() - started < 1.0  # the reply never waits for the registrar

    status = wait_state(two_workers, alias("7002"), "registered")
    assert status["realm"] == REALM
    assert status["algorithm"] == "MD5"
    assert status["conference_name"] == "reg-a"
    assert status["numeric_id"] == "7002"
    assert status["last_status"] == 200
    assert status["last_error"] is None
    assert status["expires_at"] is not None
    assert "7002" in registrar.bindings()

    time.sleep(3)  # time for a second worker to register too, were the lease not exclusive
    assert registrar.count("CHALLENGE REGISTER", alias("7002")) == 1
    assert registrar.count("REGISTER-OK", alias("7002"), expires="3600") == 1

    rpc(two_workers, "conference.destroy", conferenceName="reg-a")
    wait_until("binding removed", lambda: "7002" not in registrar.bindings(), timeout=10)
    assert registrar.count("REGISTER-OK", alias("7002"), expires="0") == 1
    final = wait_state(two_workers, alias("7002"), "unregistered")
    assert final["expires_at"] is None
    assert final["last_error"] is None


def test_missing_credential_fails_naming_the_realm_then_recovers(two_workers: Bridge, registrar: Registrar) -> None:
    rpc(two_workers, "conference.create", conferenceName="reg-b", numericId="7003", registerWithSIPRegistrar=True)
    failed = wait_state(two_workers, alias("7003"), "failed")
    assert failed["last_error"] == f'no SIP credential for realm "{REALM}"'
    assert failed["last_status"] == 401
    assert "7003" not in registrar.bindings()

    uri = add_credential(two_workers)  # the owner's back-off retry picks it up
    try:
        recovered = wait_state(two_workers, alias("7003"), "registered", timeout=20)
        assert recovered["realm"] == REALM
        assert recovered["last_error"] is None
        assert "7003" in registrar.bindings()
    finally:
        rpc(two_workers, "conference.destroy", conferenceName="reg-b")
        wait_state(two_workers, alias("7003"), "unregistered")
        delete_credential(two_workers, uri)


def test_end_unregisters_and_conferences_without_the_flag_are_not_registered(
    two_workers: Bridge, registrar: Registrar, credential: str
) -> None:
    rpc(two_workers, "conference.create", conferenceName="reg-c", numericId="7004", registerWithSIPRegistrar=True)
    rpc(two_workers, "conference.create", conferenceName="reg-d", numericId="7005")
    rpc(two_workers, "conference.create", conferenceName="reg-e", numericId="7006", registerWithSIPRegistrar=False)
    wait_state(two_workers, alias("7004"), "registered")
    time.sleep(1.5)
    known = statuses(two_workers)
    assert alias("7005") not in known
    assert alias("7006") not in known
    assert not {"7005", "7006"} & registrar.bindings().keys()

    rpc(two_workers, "conference.end", conferenceName="reg-c")
    wait_until("binding removed", lambda: "7004" not in registrar.bindings(), timeout=10)
    wait_state(two_workers, alias("7004"), "unregistered")
    for name in ("reg-c", "reg-d", "reg-e"):
        rpc(two_workers, "conference.destroy", conferenceName=name)


def test_modify_follows_the_flag_and_the_numeric_id(two_workers: Bridge, registrar: Registrar, credential: str) -> None:
    rpc(two_workers, "conference.create", conferenceName="reg-m", numericId="7007")
    rpc(two_workers, "conference.modify", conferenceName="reg-m", registerWithSIPRegistrar=True)
    wait_state(two_workers, alias("7007"), "registered")
    rpc(two_workers, "conference.modify", conferenceName="reg-m", numericId="7008")
    wait_state(two_workers, alias("7008"), "registered")
    wait_state(two_workers, alias("7007"), "unregistered")
    assert "7007" not in registrar.bindings()
    rpc(two_workers, "conference.modify", conferenceName="reg-m", registerWithSIPRegistrar=False)
    wait_state(two_workers, alias("7008"), "unregistered")
    assert not {"7007", "7008"} & registrar.bindings().keys()
    rpc(two_workers, "conference.destroy", conferenceName="reg-m")


def test_restart_registers_the_live_conference_again(bridge_factory: BridgeFactory, registrar: Registrar) -> None:
    first = bridge_factory(env_overrides=registrar_env(registrar))
    add_credential(first)
    rpc(first, "conference.create", conferenceName="keep", numericId="7010", registerWithSIPRegistrar=True)
    wait_state(first, alias("7010"), "registered")
    contact_before = registrar.bindings()["7010"]

    assert first.stop() == 0  # SIGTERM: the owner un-registers what it holds
    assert "7010" not in registrar.bindings()
    assert registrar.count("REGISTER-OK", alias("7010"), expires="0") == 1

    second = bridge_factory(data_dir=first.data_dir, env_overrides=registrar_env(registrar))
    status = wait_state(second, alias("7010"), "registered")
    assert status["conference_name"] == "keep"
    assert status["realm"] == REALM
    contact_after = wait_until("binding back", lambda: registrar.bindings().get("7010"), timeout=10)
    assert contact_after != contact_before  # a new process (new ephemeral port) registered it
    assert registrar.count("REGISTER-OK", alias("7010"), expires="3600") == 2


OWNER_LINE = "this worker now owns SIP registration"


def test_two_instances_on_postgresql_one_owner_and_takeover_after_a_crash(
    postgres_url: str, bridge_factory: BridgeFactory, registrar: Registrar, tmp_path: Path
) -> None:
    # postgres_url comes first so that its schema is dropped only after the bridges have stopped.
    shared = tmp_path / "shared"  # one keyring for both instances, as a shared volume would give
    env = registrar_env(registrar, ADHOC_DATABASE__URL=postgres_url)
    first = bridge_factory(data_dir=shared, env_overrides=env)
    second = bridge_factory(data_dir=shared, env_overrides=env)
    add_credential(first)
    rpc(second, "conference.create", conferenceName="pg-keep", numericId="7020", registerWithSIPRegistrar=True)
    rpc(first, "conference.create", conferenceName="pg-gone", numericId="7021", registerWithSIPRegistrar=True)
    wait_state(first, alias("7020"), "registered")
    wait_state(second, alias("7021"), "registered")  # either instance serves every alias's status
    time.sleep(2)
    assert registrar.count("REGISTER-OK", alias("7020"), expires="3600") == 1
    assert registrar.count("REGISTER-OK", alias("7021"), expires="3600") == 1
    owners = [bridge for bridge in (first, second) if OWNER_LINE in bridge.log_text()]
    assert len(owners) == 1
    owner, survivor = owners[0], second if owners[0] is first else first

    owner.stop(signal.SIGKILL)  # no chance to un-register or release the lease
    rpc(survivor, "conference.destroy", conferenceName="pg-gone")
    wait_until(
        "the survivor took over and refreshed the live alias",
        lambda: registrar.count("REGISTER-OK", alias("7020"), expires="3600") == 2,
        timeout=30,
    )
    assert OWNER_LINE in survivor.log_text()
    gone = wait_state(survivor, alias("7021"), "unregistered", timeout=10)
    assert gone["last_error"] == ABANDONED_REASON
    assert "7021" in registrar.bindings()  # nobody left to un-register it: it expires at the registrar
    assert registrar.count("REGISTER-OK", alias("7021"), expires="0") == 0
    assert wait_state(survivor, alias("7020"), "registered")["conference_name"] == "pg-keep"
