"""Durability and sharing: restart, two workers on one SQLite file, two instances on one PostgreSQL."""

from __future__ import annotations

import signal
import time
import xmlrpc.client
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conferences.conftest import call, enumerate_all
from tests.conftest import BridgeFactory
from tests.support.bridge import Bridge

RACERS = 24


def race_create(bridges: list[Bridge], name: str) -> Counter[str]:
    """Many clients create one name at once, spread over the given bridges; count the outcomes."""

    def attempt(index: int) -> str:
        try:
            call(bridges[index % len(bridges)], "conference.create", conferenceName=name, numericId="4242")
        except xmlrpc.client.Fault as fault:
            return f"fault {fault.faultCode}"
        return "ok"

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return Counter(pool.map(attempt, range(RACERS)))


def wait_gone(bridges: list[Bridge], name: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call(bridges[0], "conference.status", conferenceName=name)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != 4:
                raise
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} still exists")


def test_restart_loses_nothing_acknowledged(
    bridge_factory: BridgeFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("durable")
    first = bridge_factory(data_dir=data_dir)
    for index in range(20):
        call(first, "conference.create", conferenceName=f"keep-{index}", numericId=f"90{index:02d}")
    call(first, "participant.add", conferenceName="keep-3", participantName="frank", address="sip:f@x")
    call(first, "conference.destroy", conferenceName="keep-0")
    first.stop(signal.SIGKILL)  # no orderly shutdown: only what was committed survives

    second = bridge_factory(data_dir=data_dir)
    records, _ = enumerate_all(second, "conference.enumerate", "conferences", moreThanFour=True)
    assert sorted(c["conferenceName"] for c in records) == sorted(f"keep-{index}" for index in range(1, 20))
    assert call(second, "participant.status", conferenceName="keep-3", participantName="frank")["participantName"]
    assert call(second, "conference.status", conferenceName="keep-7")["numericId"] == "9007"
    with pytest.raises(xmlrpc.client.Fault) as raised:
        call(second, "conference.create", conferenceName="other", numericId="9005")
    assert raised.value.faultCode == 18


def test_two_workers_share_one_sqlite_store(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_SERVER__WORKERS": "2", "ADHOC_LOG__LEVEL": "info"})
    outcomes = race_create([bridge], "race")
    assert outcomes == Counter({"ok": 1, "fault 2": RACERS - 1})
    for index in range(30):
        call(bridge, "conference.create", conferenceName=f"w-{index:02d}")
    records, _ = enumerate_all(bridge, "conference.enumerate", "conferences")  # pages land on either worker
    assert Counter(c["conferenceName"] for c in records) == Counter(["race", *(f"w-{i:02d}" for i in range(30))])
    call(bridge, "conference.create", conferenceName="swept", cleanupTimeout=1)
    wait_gone([bridge], "swept")
    time.sleep(0.5)
    assert bridge.log_text().count("conference cleaned up conference=swept") == 1


def test_two_instances_share_one_postgresql_store(bridge_factory: BridgeFactory, postgres_url: str) -> None:
    env = {"ADHOC_DATABASE__URL": postgres_url, "ADHOC_LOG__LEVEL": "info"}
    first = bridge_factory(env_overrides=env)
    second = bridge_factory(env_overrides=env)
    outcomes = race_create([first, second], "pg-race")
    assert outcomes == Counter({"ok": 1, "fault 2": RACERS - 1})
    call(first, "conference.create", conferenceName="pg-a", numericId="1111")
    assert call(second, "conference.status", conferenceName="pg-a")["numericId"] == "1111"
    with pytest.raises(xmlrpc.client.Fault) as raised:
        call(second, "conference.create", conferenceName="pg-b", guestNumericId="1111")
    assert raised.value.faultCode == 18
    for index in range(10):
        call(first if index % 2 else second, "conference.create", conferenceName=f"pg-{index:02d}")
    # An enumerateID from one instance is honoured by the other (the signing key lives in the database).
    page = call(first, "conference.enumerate")
    rest = call(second, "conference.enumerate", enumerateID=page["enumerateID"])
    assert {c["conferenceName"] for c in page["conferences"]}.isdisjoint(
        c["conferenceName"] for c in rest["conferences"]
    )
    call(second, "conference.create", conferenceName="pg-swept", cleanupTimeout=1)
    wait_gone([first, second], "pg-swept")
    time.sleep(0.5)
    logs = first.log_text() + second.log_text()
    assert logs.count("conference cleaned up conference=pg-swept") == 1
