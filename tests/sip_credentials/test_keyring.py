"""The keyring file: created 0600 once, wrapped under the master key when one is set, re-read when it changes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.sip_credentials.keyring import (
    Keyring,
    KeyringError,
    add_key,
    ensure_keyring,
    keyring_path,
    open_keyring,
    parse_master_key,
    retire_keys,
)
from tests.conftest import BridgeFactory
from tests.support.bridge import SIP_TEST_MASTER_KEY

MASTER = SecretStr(SIP_TEST_MASTER_KEY)


def test_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = open_keyring(tmp_path, None)
    path = keyring_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = open_keyring(tmp_path, None)
    assert again.current().key_id == first.current().key_id
    assert again.current().secret == first.current().secret


def test_master_key_wraps_the_data_keys(tmp_path: Path) -> None:
    plain = open_keyring(tmp_path, None).current()
    wrapped = open_keyring(tmp_path, MASTER)  # configuring a master key later wraps the existing keys
    assert wrapped.current().secret == plain.secret
    text = keyring_path(tmp_path).read_text()
    assert '"key"' not in text
    assert '"wrapped"' in text
    with pytest.raises(KeyringError, match="set secrets.encryption_key"):
        open_keyring(tmp_path, None)
    other = SecretStr("A" * 43 + "=")
    with pytest.raises(KeyringError, match="not the master key") as caught:
        open_keyring(tmp_path, other)
    assert SIP_TEST_MASTER_KEY not in str(caught.value)


@pytest.mark.parametrize("value", ["short", "!" * 44, "A" * 40])
def test_master_key_format_is_checked(value: str) -> None:
    with pytest.raises(KeyringError, match="32 random bytes in URL-safe base64") as caught:
        parse_master_key(SecretStr(value))
    assert value not in str(caught.value)


def test_a_reader_picks_up_keys_added_by_another_process(tmp_path: Path) -> None:
    path = keyring_path(tmp_path)
    reader = open_keyring(tmp_path, None)
    old = reader.current().key_id
    new = add_key(path, None)
    assert reader.key(new.key_id) == new.secret  # unknown id: re-read
    assert reader.current().key_id == new.key_id  # writes use the newest
    assert retire_keys(path, None, keep=new.key_id) == [old]
    assert [entry["id"] for entry in json.loads(path.read_text())["keys"]] == [new.key_id]
    assert reader.key(old)  # a running reader keeps what it loaded
    assert Keyring(path, None).key_ids == [new.key_id]


def test_unreadable_keyring_is_a_clear_error(tmp_path: Path) -> None:
    path = keyring_path(tmp_path)
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="unreadable keyring"):
        ensure_keyring(path, None)


def test_serve_refuses_a_malformed_master_key(bridge_factory: BridgeFactory) -> None:
    bridge = bridge_factory(env_overrides={"ADHOC_SECRETS__ENCRYPTION_KEY": "not-a-key"}, wait=False)
    assert bridge.process.wait(timeout=30) == 2
    assert "configuration error: secrets.encryption_key must be 32 random bytes" in bridge.log_text()
