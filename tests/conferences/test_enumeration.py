"""Paging, enumerateIDs, revisions, listAll and dead records, against the real service."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from app.conferences.enumeration import Cursor, EnumerateTokens
from app.conferences.errors import InvalidEnumerateId
from app.mcu.faults import mcu_fault
from tests.conferences.conftest import call, enumerate_all, fault_of
from tests.support.bridge import Bridge


def test_page_sizes_and_enumerate_id_absent_on_last_page(mcu: Bridge) -> None:
    for index in range(30):
        call(mcu, "conference.create", conferenceName=f"size-{index:02d}")
    first = call(mcu, "conference.enumerate")
    assert len(first["conferences"]) == 4
    assert "enumerateID" in first
    more = call(mcu, "conference.enumerate", moreThanFour=True)
    assert len(more["conferences"]) == 24
    second = call(mcu, "conference.enumerate", moreThanFour=True, enumerateID=more["enumerateID"])
    assert len(second["conferences"]) == 6
    assert "enumerateID" not in second
    names = [c["conferenceName"] for c in more["conferences"] + second["conferences"]]
    assert names == [f"size-{index:02d}" for index in range(30)]


def test_paging_sees_each_conference_once_while_others_churn(mcu: Bridge) -> None:
    for index in range(100):
        call(mcu, "conference.create", conferenceName=f"page-{index:03d}")
    stop = threading.Event()
    churned: list[str] = []

    def churn() -> None:
        index = 0
        while not stop.is_set():
            name = f"churn-{index}"
            call(mcu, "conference.create", conferenceName=name)
            if index % 2 == 0:
                call(mcu, "conference.destroy", conferenceName=name)
            churned.append(name)
            index += 1

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        seen: list[str] = []
        pages = 0
        enumerate_id: str | None = None
        while True:
            extra = {"enumerateID": enumerate_id} if enumerate_id else {}
            reply = call(mcu, "conference.enumerate", **extra)
            pages += 1
            seen.extend(c["conferenceName"] for c in reply.get("conferences", []))
            enumerate_id = reply.get("enumerateID")
            if enumerate_id is None:
                break
            time.sleep(0.005)
    finally:
        stop.set()
        worker.join()
    assert len(churned) > 10, "the other client really created and destroyed conferences meanwhile"
    counts = Counter(seen)
    assert all(counts[f"page-{index:03d}"] == 1 for index in range(100))
    assert max(counts.values()) == 1
    assert pages >= 25


def test_revisions_list_all_and_dead_records(mcu: Bridge) -> None:
    for name in ("rev-keep", "rev-change", "rev-gone"):
        call(mcu, "conference.create", conferenceName=name)
    call(mcu, "participant.add", conferenceName="rev-gone", participantName="ghost", address="a")
    _, baseline = enumerate_all(mcu, "conference.enumerate", "conferences", moreThanFour=True)

    call(mcu, "conference.create", conferenceName="rev-new")
    call(mcu, "conference.modify", conferenceName="rev-change", description="changed")
    call(mcu, "conference.destroy", conferenceName="rev-gone")

    changes, current = enumerate_all(mcu, "conference.enumerate", "conferences", lastRevision=baseline)
    assert current > baseline
    by_name = {c["conferenceName"]: c for c in changes if c["conferenceName"].startswith("rev-")}
    assert set(by_name) == {"rev-new", "rev-change", "rev-gone"}
    assert by_name["rev-change"]["description"] == "changed"
    assert by_name["rev-gone"] == {
        "conferenceName": "rev-gone",
        "uniqueId": by_name["rev-gone"]["uniqueId"],
        "dead": True,
    }
    assert "dead" not in by_name["rev-new"]

    everything, _ = enumerate_all(mcu, "conference.enumerate", "conferences", lastRevision=baseline, listAll=True)
    listed = {c["conferenceName"]: c for c in everything if c["conferenceName"].startswith("rev-")}
    assert set(listed) == {"rev-keep", "rev-change", "rev-new"}  # listAll never returns dead records
    assert listed["rev-keep"] == {
        "conferenceName": "rev-keep",
        "uniqueId": listed["rev-keep"]["uniqueId"],
        "changed": False,
    }
    assert listed["rev-change"]["description"] == "changed"

    full, _ = enumerate_all(mcu, "conference.enumerate", "conferences")
    assert not any(c.get("dead") for c in full)  # no dead records without lastRevision
    nothing_new, _ = enumerate_all(mcu, "conference.enumerate", "conferences", lastRevision=current)
    assert nothing_new == []

    participants, _ = enumerate_all(
        mcu, "participant.enumerate", "participants", operationScope=["currentState"], lastRevision=baseline
    )
    assert {"participantName": "ghost", "participantProtocol": "h323", "participantType": "by_address",
            "conferenceName": "rev-gone", "dead": True} in participants  # fmt: skip


def test_conference_filters(mcu: Bridge) -> None:
    call(mcu, "conference.create", conferenceName="flt-live")
    call(mcu, "conference.create", conferenceName="flt-over")
    call(mcu, "conference.end", conferenceName="flt-over")

    def names(expression: str) -> set[str]:
        records, _ = enumerate_all(mcu, "conference.enumerate", "conferences", enumerateFilter=expression)
        return {c["conferenceName"] for c in records if c["conferenceName"].startswith("flt-")}

    assert names("active") == {"flt-live"}
    assert names("completed") == {"flt-over"}
    assert names("!active") == {"flt-over"}
    assert names("scheduled && (active || completed)") == {"flt-live", "flt-over"}
    assert names("active == 0x0") == {"flt-over"}


def test_enumerate_ids_cannot_be_invented_or_altered(mcu: Bridge) -> None:
    for index in range(6):
        call(mcu, "conference.create", conferenceName=f"tok-{index}")
    token = call(mcu, "conference.enumerate")["enumerateID"]
    payload, _, mac = token.partition(".")
    assert fault_of(mcu, "conference.enumerate", enumerateID=f"{payload}.{mac[::-1]}")[0] == 16
    assert fault_of(mcu, "conference.enumerate", enumerateID="4")[0] == 16
    # A conference enumerateID is not a participant one.
    assert fault_of(mcu, "participant.enumerate", operationScope=["currentState"], enumerateID=token)[0] == 16
    assert "conferences" in call(mcu, "conference.enumerate", enumerateID=token)


def test_enumerate_ids_expire() -> None:
    tokens = EnumerateTokens(b"k" * 32, lifetime=600)
    issued = tokens.issue(Cursor("conference", 7, None, False, 1_000_000.0))
    assert tokens.open(issued, kind="conference", now=1_000_100.0).after_id == 7
    other_key = EnumerateTokens(b"x" * 32)
    with pytest.raises(InvalidEnumerateId) as expired:
        tokens.open(issued, kind="conference", now=1_000_601.0)
    assert mcu_fault(expired.value).code == 16
    with pytest.raises(InvalidEnumerateId) as foreign:
        other_key.open(issued, kind="conference", now=1_000_100.0)
    assert mcu_fault(foreign.value).code == 16
