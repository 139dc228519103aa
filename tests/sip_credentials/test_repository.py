"""The same storage on PostgreSQL: migrations, byte-for-byte realms under any collation, uniqueness, paging."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text

from app.sip_credentials.keyring import open_keyring
from app.sip_credentials.service import Actor, DuplicateRealm, SipCredentialService
from app.storage.database import Database
from app.storage.migrate import upgrade
from tests.support.bridge import SIP_TEST_PASSWORDS

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ACTOR = Actor("tester", "local")


@pytest.fixture
async def pg_service(tmp_path: Path) -> AsyncIterator[SipCredentialService]:
    """A fresh PostgreSQL database just for this test, migrated by the service's own migrations, then dropped."""
    name = f"adhoc_sipcred_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {type(exc).__name__}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except BaseException:
        await admin.close()
        raise
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    database: Database | None = None
    try:
        await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
        database = Database(url)
        yield SipCredentialService(database, open_keyring(tmp_path, None))
    finally:
        if database is not None:
            await database.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_realms_are_compared_byte_for_byte(pg_service: SipCredentialService) -> None:
    realms = ["Example.COM", "example.com", "EXAMPLE.COM", "exämple.com", "exa\u0301mple.com"]
    for n, realm in enumerate(realms):
        await pg_service.create(realm=realm, username=f"u{n}", password=SIP_TEST_PASSWORDS[n], actor=ACTOR)
    for n, realm in enumerate(realms):
        assert await pg_service.credential_for(realm) == (f"u{n}", SIP_TEST_PASSWORDS[n])
        page = await pg_service.list_page(realm=realm, limit=20, offset=0)
        assert [item.realm for item in page.items] == [realm]
    assert await pg_service.credential_for("Example.com") is None
    with pytest.raises(DuplicateRealm):
        await pg_service.create(realm="example.com", username="x", password="y", actor=ACTOR)
    page = await pg_service.list_page(realm=None, limit=2, offset=3)
    assert (page.total, [item.realm for item in page.items]) == (5, realms[3:5])


async def test_the_column_collation_is_binary(pg_service: SipCredentialService) -> None:
    async with pg_service.database.session() as session:
        collation = await session.execute(
            text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'sip_credential' AND column_name = 'realm'"
            )
        )
        assert collation.scalar_one() == "C"
        stored = await session.execute(text("SELECT count(*) FROM sip_credential"))
        assert stored.scalar_one() == 0
