"""Duration ends and cleanup timeouts fire on their own (no request needed), with short real durations."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Callable

from tests.conferences.conftest import call, fault_of
from tests.support.bridge import Bridge, auth


def wait_for(condition: Callable[[], bool], timeout: float = 8.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def exists(bridge: Bridge, name: str) -> bool:
    try:
        call(bridge, "conference.status", conferenceName=name)
    except xmlrpc.client.Fault as fault:
        if fault.faultCode != 4:
            raise
        return False
    return True


def test_duration_ends_the_conference_at_its_end_time(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="short", durationSeconds=1)
    call(mcu, "participant.add", conferenceName="short", participantName="eve", address="sip:eve@x")
    status = call(mcu, "conference.status", conferenceName="short")
    assert status["conferenceActive"] is True
    assert status["activeEndTime"] is not None
    time.sleep(2.0)  # no request in between: only the sweeper can act
    eve = call(mcu, "participant.status", conferenceName="short", participantName="eve")
    assert eve["currentState"]["callState"] == "disconnected"
    assert eve["currentState"]["disconnectReason"] == "disconnectAll"
    assert call(mcu, "conference.status", conferenceName="short")["conferenceActive"] is False
    assert mcu.log_text().count("conference ended conference=short by=duration") == 1


def test_cleanup_timeout_deletes_an_idle_conference(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="idle", cleanupTimeout=1)
    assert exists(mcu, "idle")
    time.sleep(2.0)
    assert fault_of(mcu, "conference.status", conferenceName="idle")[0] == 4
    assert mcu.log_text().count("conference cleaned up conference=idle") == 1


def test_cleanup_waits_while_participants_are_connected(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="busy", cleanupTimeout=1)
    call(mcu, "participant.add", conferenceName="busy", participantName="p", address="a")
    time.sleep(2.0)
    assert exists(mcu, "busy")
    call(mcu, "participant.disconnect", conferenceName="busy", participantName="p")
    assert wait_for(lambda: not exists(mcu, "busy")) < 3.0


def test_reset_cleanup_timeout_postpones_deletion(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="resettable", cleanupTimeout=2)
    created = time.monotonic()
    time.sleep(1.2)
    call(mcu, "conference.resetCleanupTimeout", conferenceName="resettable")
    time.sleep(1.5)  # 2.7 s after creation: past the original deadline, before the reset one
    assert exists(mcu, "resettable")
    wait_for(lambda: not exists(mcu, "resettable"))
    assert time.monotonic() - created >= 3.2


def test_finite_conference_is_cleaned_up_after_its_end(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="brief", durationSeconds=1, cleanupTimeout=1)
    wait_for(lambda: not exists(mcu, "brief"))
    log = mcu.log_text()
    assert log.count("conference ended conference=brief by=duration") == 1
    assert log.count("conference cleaned up conference=brief") == 1


def test_more_conferences_due_at_once_than_one_batch_all_end_together(mcu: Bridge) -> None:
    names = [f"batch-{index}" for index in range(130)]  # more than two of the sweeper's 50-conference units
    with mcu.rpc() as proxy:
        started = time.monotonic()
        for name in names:
            proxy.conference.create(auth(conferenceName=name, durationSeconds=1))
        created_in = time.monotonic() - started

    def ended() -> int:
        return sum(mcu.log_text().count(f"conference ended conference={name} by=duration") for name in names)

    # The last one is due 1 s after its creation; every sweep that ends a full batch is followed by another.
    assert wait_for(lambda: ended() == len(names), timeout=created_in + 4.0) < created_in + 2.5
