"""The status table on real SQLite and PostgreSQL: upsert, paging order, hostile lengths cut to fit, purge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from app.sip_registration.status_store import AliasStatus, StatusStore
from app.storage.database import Database

NOW = datetime(2030, 1, 1, 12, 0, 0)


def status(alias: str, state: str = "registered", **changes: object) -> AliasStatus:
    fields: dict[str, object] = {
        "alias": alias,
        "numeric_id": alias.split("@")[0].removeprefix("sip:"),
        "conference_name": "conf",
        "state": state,
        "realm": "Test.Realm",
        "algorithm": "SHA-256",
        "expires_at": NOW + timedelta(hours=1),
        "last_status": 200,
        "last_error": None,
        "updated_at": NOW,
    }
    fields.update(changes)
    return AliasStatus(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(migrated_url: str) -> AsyncIterator[StatusStore]:
    database = Database(migrated_url)
    yield StatusStore(database)
    await database.dispose()


async def test_save_replaces_and_pages_in_alias_order(store: StatusStore) -> None:
    await store.save([status("sip:2@d"), status("sip:1@d", state="registering", expires_at=None)])
    await store.save([status("sip:1@d")])
    total, page = await store.page(limit=1, offset=0)
    assert total == 2
    assert page == [status("sip:1@d")]
    _, rest = await store.page(limit=10, offset=1)
    assert [item.alias for item in rest] == ["sip:2@d"]


async def test_hostile_lengths_are_cut_not_fatal(store: StatusStore) -> None:
    huge_realm = "R" * 5000
    await store.save([status("sip:3@d", state="failed", realm=huge_realm, last_error="x" * 5000)])
    _, [saved] = await store.page(limit=10, offset=0)
    assert saved.realm == huge_realm[:250]
    assert saved.last_error is not None
    assert len(saved.last_error) == 500


async def test_abandoned_rows_are_marked_and_old_unregistered_rows_purged(store: StatusStore) -> None:
    await store.save([status("sip:4@d"), status("sip:5@d", state="unregistered", updated_at=NOW - timedelta(hours=2))])
    assert list(await store.active_aliases()) == ["sip:4@d"]
    await store.mark_abandoned(["sip:4@d"], NOW, "left behind")
    _, rows = await store.page(limit=10, offset=0)
    assert [(row.state, row.last_error, row.expires_at) for row in rows] == [
        ("unregistered", "left behind", None),
        ("unregistered", None, NOW + timedelta(hours=1)),
    ]
    await store.purge_unregistered(NOW - timedelta(hours=1))
    _, kept = await store.page(limit=10, offset=0)
    assert [row.alias for row in kept] == ["sip:4@d"]
