"""Rows an earlier version stored (JSON null options, far dates, huge numbers) never break a reply.

The repair migration (c0002) fixes what it knows about; what it does not is left out of the reply with one
warning line, never a fault for the whole page. Databases are seeded at the old schema with plain sqlite3,
then the real server starts on them (it migrates at start) and is asked with the standard library's client.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic import command

from app.storage.migrate import alembic_config, upgrade
from tests.conferences.conftest import call, enumerate_all
from tests.support.bridge import Bridge, start_bridge

START = "2026-01-01 10:00:00.000000"


def _database(data_dir: Path, revision: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "adhoc-bridge.db"
    url = f"sqlite+aiosqlite:///{path}"
    if revision == "heads":
        upgrade(url)
    else:
        command.upgrade(alembic_config(url), revision)
    return path


def _seed_conference(
    db: sqlite3.Connection,
    name: str,
    options: Any,
    *,
    start: str = START,
    duration: int = 0,
    end: str | None = None,
    ended: str | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO conference (name, numeric_id, guest_numeric_id, options, start_time, duration_seconds,"
        " end_time, ended_at, cleanup_timeout, empty_since, cleanup_due, locked, active_instance, revision)"
        " VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, 0, ?, NULL, 0, 1, 1)",
        (name, json.dumps(options), start, duration, end, ended, start),
    )
    db.execute("UPDATE conference_state SET conference_count = conference_count + 1")
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _seed_participant(db: sqlite3.Connection, conference_id: int, name: str, options: Any) -> None:
    db.execute(
        "INSERT INTO conference_participant (conference_id, name, protocol, participant_type, address, options,"
        " call_state, connect_time, disconnect_time, disconnect_reason, revision)"
        " VALUES (?, ?, 'sip', 'by_address', 'sip:old@example.com', ?, 'connected', ?, NULL, NULL, 1)",
        (conference_id, name, json.dumps(options), START),
    )


def _seed(path: Path) -> None:
    with sqlite3.connect(path) as db:
        poisoned = _seed_conference(
            db,
            "poisoned",
            {
                "pin": None,
                "private": None,
                "description": "kept",
                "maximumVideoPorts": 2**40,
                "reservedAudioPorts": None,
                "terminationDate": "not a date",
                "joinAudioMuted": True,
            },
            start="9999-12-31 00:00:00.000000",
        )
        _seed_conference(db, "nulls-only", {"pin": None, "description": "kept", "maximumVideoPorts": 2**40})
        _seed_conference(db, "null-options", None)
        _seed_conference(db, "list-options", [1, 2])
        # A start near the end of the range with the longest duration: its end lies past 9000 and stays.
        _seed_conference(
            db,
            "late",
            {},
            start="8999-01-01 00:00:00.000000",
            duration=2**31 - 1,
            end="9067-01-19 03:14:07.000000",
            ended="9999-12-31 00:00:00.000000",
        )
        clean = _seed_conference(db, "clean", {"description": "fine"})
        _seed_participant(db, clean, "old", {"deferConnection": None, "maxBitRateToMCU": None, "audioRxMuted": True})
        _seed_participant(db, poisoned, "older", {"displayNameOverrideValue": None, "borderWidth": 2**35})
        _seed_participant(db, clean, "oldest", None)


@pytest.fixture
def started(tmp_path: Path) -> Any:
    bridges: list[Bridge] = []

    def start(data_dir: Path) -> Bridge:
        bridge = start_bridge(data_dir, env_overrides={"ADHOC_LOG__LEVEL": "info"})
        bridges.append(bridge)
        return bridge

    yield start
    for bridge in bridges:
        bridge.stop()


def test_the_migration_repairs_rows_stored_before_validation(tmp_path: Path, started: Any) -> None:
    data_dir = tmp_path / "old"
    _seed(_database(data_dir, "c0001_conferences"))
    bridge: Bridge = started(data_dir)

    poisoned = call(bridge, "conference.status", conferenceName="poisoned")
    assert poisoned["pin"] == ""  # the default again: the stored null is gone
    assert poisoned["private"] is False
    assert poisoned["description"] == "kept"
    assert poisoned["joinAudioMuted"] is True
    assert poisoned["reservedAudioPorts"] == 0
    assert "maximumVideoPorts" not in poisoned
    assert "terminationDate" not in poisoned
    assert poisoned["startTime"] == datetime(9000, 12, 31, 23, 59, 59)
    assert call(bridge, "conference.status", conferenceName="nulls-only")["pin"] == ""
    late = call(bridge, "conference.status", conferenceName="late")
    assert (late["startTime"], late["durationSeconds"]) == (datetime(8999, 1, 1), 2**31 - 1)
    call(bridge, "conference.modify", conferenceName="late", cleanupTimeout=2**31 - 1)  # ended_at + timeout fits
    for name in ("null-options", "list-options", "clean"):
        assert call(bridge, "conference.status", conferenceName=name)["conferenceName"] == name

    conferences, _ = enumerate_all(bridge, "conference.enumerate", "conferences")
    assert sorted(record["conferenceName"] for record in conferences) == [
        "clean",
        "late",
        "list-options",
        "null-options",
        "nulls-only",
        "poisoned",
    ]
    participants, _ = enumerate_all(bridge, "participant.enumerate", "participants")
    by_name = {record["participantName"]: record for record in participants}
    assert by_name["old"]["configuredState"] == {"address": "sip:old@example.com", "audioRxMuted": True}
    assert by_name["older"]["configuredState"] == {"address": "sip:old@example.com"}
    assert by_name["oldest"]["configuredState"] == {"address": "sip:old@example.com"}
    assert by_name["old"]["currentState"]["maxBitRateToMCU"] == 0

    # Every derived time fits again: the longest duration on the far start, a participant, an end.
    call(bridge, "conference.modify", conferenceName="poisoned", durationSeconds=2**31 - 1, cleanupTimeout=2**31 - 1)
    call(bridge, "participant.add", conferenceName="poisoned", participantName="new", address="sip:n@example.com")
    call(bridge, "conference.end", conferenceName="poisoned")
    assert "Traceback" not in bridge.log_text()
    assert "left out" not in bridge.log_text()


def test_unrepaired_rows_are_left_out_of_replies_with_one_log_line(tmp_path: Path, started: Any) -> None:
    """Rows damaged after the migration ran (say, by hand): replies still go out, without the bad parts."""
    data_dir = tmp_path / "damaged"
    _seed(_database(data_dir, "heads"))
    bridge: Bridge = started(data_dir)

    # A stored nil or 64-bit number: the member is left out of the reply, the rest answers.
    status = call(bridge, "conference.status", conferenceName="nulls-only")
    assert "pin" not in status
    assert "maximumVideoPorts" not in status
    assert status["description"] == "kept"

    for _ in range(3):
        conferences, _ = enumerate_all(bridge, "conference.enumerate", "conferences")
        # "poisoned" (a stored terminationDate that is no date), "null-options" and "list-options" (options
        # not an object) cannot be rendered at all: they are left out of the page, which still answers.
        assert {record["conferenceName"] for record in conferences} == {"clean", "late", "nulls-only"}
        participants, _ = enumerate_all(bridge, "participant.enumerate", "participants")
        # "old" (maxBitRateToMCU null) and "oldest" (options null) cannot be rendered; "older" is sent
        # without its stored nil and its 35-bit number.
        assert [record["participantName"] for record in participants] == ["older"]
        assert participants[0]["configuredState"] == {"address": "sip:old@example.com"}
    log = bridge.log_text()
    assert "Traceback" not in log
    assert log.count("stored record left out of an enumerate page") == 2  # one per kind, not one per page
    assert log.count("reply members that XML-RPC cannot carry were left out") == 1  # at most one a minute


async def _pg(url: str, statements: list[tuple[str, tuple[Any, ...]]], query: str) -> list[Any]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for statement, args in statements:
            await connection.execute(statement, *args)
        return list(await connection.fetch(query)) if query else []
    finally:
        await connection.close()


def test_the_migration_repairs_the_same_rows_on_postgresql(postgres_url: str) -> None:
    command.upgrade(alembic_config(postgres_url), "c0001_conferences")
    insert = (
        "INSERT INTO conference (name, options, start_time, duration_seconds, cleanup_timeout, locked,"
        " active_instance, revision, empty_since) VALUES ($1, $2::json, $3, $4, 0, false, 1, 1, $3)"
    )
    far = datetime(9999, 12, 31)
    start = datetime(2026, 1, 1, 10)
    seeds = [
        (insert, ("poisoned", json.dumps({"pin": None, "description": "kept", "maximumVideoPorts": 2**40}), far, 0)),
        (insert, ("null-options", "null", start, 0)),
        (insert, ("clean", json.dumps({"description": "fine"}), start, 60)),
    ]
    asyncio.run(_pg(postgres_url, seeds, ""))
    upgrade(postgres_url)
    rows = asyncio.run(
        _pg(postgres_url, [], "SELECT name, options::text AS options, start_time, end_time FROM conference ORDER BY id")
    )
    repaired = {row["name"]: (json.loads(row["options"]), row["start_time"], row["end_time"]) for row in rows}
    assert repaired["poisoned"] == ({"description": "kept"}, datetime(9000, 12, 31, 23, 59, 59), None)
    assert repaired["null-options"] == ({}, start, None)
    assert repaired["clean"] == ({"description": "fine"}, start, None)  # untouched (end_time was never set)
