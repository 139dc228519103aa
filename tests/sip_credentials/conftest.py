"""Helpers shared by the sip_credentials tests: an admin client, and the service run in-process on a bridge's files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from app.sip_credentials.keyring import Keyring, keyring_path, parse_master_key
from app.sip_credentials.service import SipCredentialService
from app.storage.database import Database
from tests.support.bridge import ADMIN_PASSWORD, ADMIN_USER, Bridge

COLLECTION = "/api/admin/configuration/v1/sip_credential/"


def admin_client(bridge: Bridge, **kwargs: Any) -> httpx.Client:
    return bridge.client(auth=(ADMIN_USER, ADMIN_PASSWORD), **kwargs)


def database_file(bridge: Bridge) -> Path:
    return bridge.data_dir / "adhoc-bridge.db"


def delete_all(client: httpx.Client) -> None:
    listing = client.get(COLLECTION, params={"limit": 0}).json()
    for item in listing["objects"]:
        assert client.delete(item["resource_uri"]).status_code == 204


def create(client: httpx.Client, realm: str, username: str, password: str) -> dict[str, object]:
    response = client.post(COLLECTION, json={"realm": realm, "username": username, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@asynccontextmanager
async def local_service(bridge: Bridge) -> AsyncIterator[SipCredentialService]:
    """The same service the bridge's workers run, in this process, on the bridge's database and keyring."""
    from pydantic import SecretStr

    master = bridge.env.get("ADHOC_SECRETS__ENCRYPTION_KEY")
    keyring = Keyring(keyring_path(bridge.data_dir), parse_master_key(SecretStr(master) if master else None))
    database = Database(f"sqlite+aiosqlite:///{database_file(bridge)}")
    try:
        yield SipCredentialService(database, keyring)
    finally:
        await database.dispose()
