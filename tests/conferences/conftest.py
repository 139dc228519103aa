"""A bridge per test module with small limits, and helpers to call it like CUCM does."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.bridge import Bridge, auth, start_bridge
from tests.support.postgres import fresh_schema_url

MAX_PARTICIPANTS = 3


@pytest.fixture(scope="module")
def mcu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    instance = start_bridge(
        tmp_path_factory.mktemp("mcu"),
        env_overrides={"ADHOC_CONFERENCES__MAX_PARTICIPANTS": str(MAX_PARTICIPANTS), "ADHOC_LOG__LEVEL": "info"},
    )
    yield instance
    instance.stop()


def call(bridge: Bridge, method: str, **params: Any) -> dict[str, Any]:
    with bridge.rpc() as proxy:
        result: dict[str, Any] = getattr(proxy, method)(auth(**params))
    return result


def fault_of(bridge: Bridge, method: str, **params: Any) -> tuple[int, str]:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        call(bridge, method, **params)
    return raised.value.faultCode, raised.value.faultString


def enumerate_all(bridge: Bridge, method: str, key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of an enumeration; returns the records and the first page's currentRevision."""
    records: list[dict[str, Any]] = []
    first_revision: int | None = None
    enumerate_id: str | None = None
    while True:
        extra = {"enumerateID": enumerate_id} if enumerate_id is not None else {}
        reply = call(bridge, method, **params, **extra)
        if first_revision is None:
            first_revision = int(reply["currentRevision"])
        records.extend(reply.get(key, []))
        enumerate_id = reply.get("enumerateID")
        if enumerate_id is None:
            assert first_revision is not None
            return records, first_revision


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh role whose search_path is its own fresh schema in database ``test``; dropped afterwards."""
    with fresh_schema_url("adhoc_conf") as url:
        yield url
