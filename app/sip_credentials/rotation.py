"""Key rotation without downtime: add a key, re-seal every row under it, then retire the old keys.

Readers keep working throughout: a worker that meets a row sealed under a key it does not hold yet
re-reads the keyring file, and workers keep the keys they already loaded. Writers pick the newest key
on every write (one ``stat`` of the keyring file), so nothing new is sealed under a retired key once
the new key is in the file. Rows are re-sealed optimistically (only if unchanged since read), in small
transactions, so API writes are never blocked for long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.sip_credentials import repository
from app.sip_credentials.crypto import RowBinding, Sealed, UndecryptableSecret, open_sealed, seal
from app.sip_credentials.keyring import Keyring, add_key, retire_keys
from app.storage.database import Database

logger = logging.getLogger(__name__)

BATCH = 200
MAX_PASSES = 5


@dataclass
class RotationReport:
    new_key_id: str = ""
    resealed: int = 0
    retired: list[str] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)


async def reseal_pass(database: Database, keyring: Keyring, report: RotationReport) -> int:
    """Re-seal every readable row not under the newest key; returns how many rows still need it."""
    key = keyring.current()
    after_id, pending = 0, 0
    while True:
        async with database.session() as session:
            rows = await repository.not_sealed_under(session, key.key_id, after_id=after_id, batch=BATCH)
        if not rows:
            return pending
        after_id = rows[-1].id
        async with database.session() as session:
            for row in rows:
                if row.id in report.unreadable:
                    continue
                binding = RowBinding(row.id, row.realm, row.username)
                try:
                    password = open_sealed(keyring.key(row.key_id), Sealed(row.key_id, row.password_sealed), binding)
                except UndecryptableSecret:
                    report.unreadable.append(row.id)
                    logger.error("cannot re-seal an undecryptable SIP password", extra={"credential_id": row.id})
                    continue
                if await repository.replace_sealed_if_unchanged(
                    session, row, seal(key.key_id, key.secret, password, binding)
                ):
                    report.resealed += 1
                else:
                    pending += 1  # changed meanwhile; the next pass sees its new state


async def rotate(database: Database, keyring: Keyring) -> RotationReport:
    report = RotationReport()
    report.new_key_id = add_key(keyring.path, keyring.master).key_id
    keyring.refresh(force=True)
    for _ in range(MAX_PASSES):
        if await reseal_pass(database, keyring, report) == 0:
            break
    report.retired = retire_keys(keyring.path, keyring.master, keep=report.new_key_id)
    # A write that read the keyring just before the new key arrived may have landed since: seal it again
    # (this process still holds the retired keys in memory).
    for _ in range(MAX_PASSES):
        if await reseal_pass(database, keyring, report) == 0:
            break
    return report
