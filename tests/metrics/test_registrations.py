"""``adhoc_sip_registrations`` against a real Kamailio registrar: the gauges follow the status list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BridgeFactory
from tests.metrics.test_metrics import samples, scrape, value
from tests.sip.conftest import _stop
from tests.sip_registration.conftest import (
    Registrar,
    add_credential,
    registrar_env,
    rpc,
    start_registrar,
    statuses,
    wait_until,
)
from tests.support.bridge import Bridge

STATES = ("registering", "registered", "failed", "unregistered")


@pytest.fixture
def registrar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registrar]:
    peer = start_registrar(tmp_path_factory.mktemp("metrics-registrar"))
    yield peer
    _stop(peer.proc)


def _gauges(bridge: Bridge) -> dict[str, float]:
    text = scrape(bridge)
    assert "Quiet-Room-Bravo" not in text  # neither the conference's name
    assert "7302@" not in text  # nor its alias (a bare 7302 could be digits of a latency sum)
    found = samples(text)
    return {state: value(found, "adhoc_sip_registrations", state=state) for state in STATES}


def _only(state: str) -> dict[str, float]:
    return {name: (1.0 if name == state else 0.0) for name in STATES}


def _single_state(bridge: Bridge) -> str | None:
    listed = [item["state"] for item in statuses(bridge).values()]
    return listed[0] if len(listed) == 1 else None


def test_registrations_by_state_follow_the_status_list(bridge_factory: BridgeFactory, registrar: Registrar) -> None:
    bridge = bridge_factory(env_overrides=registrar_env(registrar))
    assert _gauges(bridge) == dict.fromkeys(STATES, 0.0)
    add_credential(bridge)
    rpc(bridge, "conference.create", conferenceName="Quiet-Room-Bravo", numericId="7302", registerWithSIPRegistrar=True)
    wait_until("the alias registered", lambda: _single_state(bridge) == "registered")
    assert _gauges(bridge) == _only("registered")

    rpc(bridge, "conference.destroy", conferenceName="Quiet-Room-Bravo")
    wait_until("the alias un-registered", lambda: _single_state(bridge) == "unregistered")
    assert _gauges(bridge) == _only("unregistered")
