"""The data keys that seal SIP passwords: a JSON keyring file in ``data_dir`` (mode 0600), newest key last.

New writes use the newest key; reads use whichever key a row names. ``rotate-key`` adds a key, re-seals
every row, then retires the old keys, so a reader holding either key keeps working meanwhile.

When ``secrets.encryption_key`` is set it is a master key: the data keys in the file are stored wrapped
(AES-GCM) under it, so the file alone reveals nothing. Unset, the data keys are stored as they are and the
file's permissions are their only protection. Format of the master key: 32 random bytes in URL-safe
base64 (44 characters, the same text form as a Fernet key), e.g.
``python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from app.sip_credentials.crypto import KEY_BYTES, NONCE_BYTES, UnknownKey

KEYRING_NAME = "sip-credential-keys.json"
FILE_FORMAT = 1
_WRAP_LABEL = b"adhoc-bridge keyring v1\x00"


class KeyringError(Exception):
    """The keyring file or the master key is unusable; the message names what to fix and holds no key."""


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: str
    secret: bytes
    created: str


def keyring_path(data_dir: Path) -> Path:
    return data_dir / KEYRING_NAME


def parse_master_key(value: SecretStr | None) -> bytes | None:
    if value is None or not value.get_secret_value():
        return None
    try:
        raw = base64.urlsafe_b64decode(value.get_secret_value().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyringError("secrets.encryption_key must be 32 random bytes in URL-safe base64 (44 characters)")
    return raw


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _wrap(master: bytes, key: DataKey) -> dict[str, str]:
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(master).encrypt(nonce, key.secret, _WRAP_LABEL + key.key_id.encode())
    return {"id": key.key_id, "created": key.created, "wrapped": _b64(nonce + wrapped)}


def _unwrap(master: bytes | None, entry: dict[str, Any], path: Path) -> DataKey:
    key_id, created = str(entry["id"]), str(entry.get("created", ""))
    if "key" in entry:
        secret = _unb64(str(entry["key"]))
    else:
        if master is None:
            raise KeyringError(f"{path}: its keys are wrapped; set secrets.encryption_key to the master key")
        blob = _unb64(str(entry["wrapped"]))
        try:
            secret = AESGCM(master).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _WRAP_LABEL + key_id.encode())
        except InvalidTag:
            raise KeyringError(
                f"{path}: secrets.encryption_key is not the master key its keys are wrapped with"
            ) from None
    if len(secret) != KEY_BYTES:
        raise KeyringError(f"{path}: key {key_id} is not {KEY_BYTES} bytes")
    return DataKey(key_id, secret, created)


def _entries(path: Path) -> list[dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    entries = document["keys"]
    if not isinstance(entries, list):
        raise TypeError("keys is not a list")
    return entries


def read_keys(path: Path, master: bytes | None) -> list[DataKey]:
    try:
        keys = [_unwrap(master, entry, path) for entry in _entries(path)]
    except KeyringError:
        raise
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise KeyringError(f"{path}: unreadable keyring ({type(exc).__name__})") from None
    if not keys:
        raise KeyringError(f"{path}: the keyring holds no key")
    return keys


def _serialise(keys: list[DataKey], master: bytes | None) -> bytes:
    entries = [
        _wrap(master, key) if master else {"id": key.key_id, "created": key.created, "key": _b64(key.secret)}
        for key in keys
    ]
    return (json.dumps({"format": FILE_FORMAT, "keys": entries}, indent=2) + "\n").encode()


def _write_private(path: Path, content: bytes) -> Path:
    """Write ``content`` to a fresh temporary file next to ``path``, mode 0600 from the first byte."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """One writer of the keyring at a time (starts and rotate-key may overlap)."""
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def new_data_key() -> DataKey:
    now = datetime.now(UTC)
    return DataKey(f"k{now:%Y%m%d}-{secrets.token_hex(4)}", os.urandom(KEY_BYTES), now.isoformat(timespec="seconds"))


def ensure_keyring(path: Path, master: bytes | None) -> list[DataKey]:
    """Create the keyring with one key when missing; wrap plain keys once a master key is configured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(path):
        if not path.exists():
            keys = [new_data_key()]
            os.replace(_write_private(path, _serialise(keys, master)), path)
            return keys
        keys = read_keys(path, master)
        if master is not None and any("key" in entry for entry in _entries(path)):
            os.replace(_write_private(path, _serialise(keys, master)), path)
        return keys


def add_key(path: Path, master: bytes | None) -> DataKey:
    with _writer_lock(path):
        keys = read_keys(path, master)
        key = new_data_key()
        os.replace(_write_private(path, _serialise([*keys, key], master)), path)
        return key


def retire_keys(path: Path, master: bytes | None, keep: str) -> list[str]:
    """Drop every key but ``keep``; returns the retired ids."""
    with _writer_lock(path):
        keys = read_keys(path, master)
        kept = [key for key in keys if key.key_id == keep]
        if not kept:
            raise KeyringError(f"{path}: key {keep} is missing")
        os.replace(_write_private(path, _serialise(kept, master)), path)
        return [key.key_id for key in keys if key.key_id != keep]


class Keyring:
    """The keys one process uses; re-reads the file when it changes (rotation by another process)."""

    def __init__(self, path: Path, master: bytes | None) -> None:
        self.path = path
        self.master = master
        self._keys: dict[str, DataKey] = {}
        self._newest = ""
        self._signature: tuple[int, int, int] | None = None
        self.refresh(force=True)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    def refresh(self, *, force: bool = False) -> None:
        signature = self._stat()
        if not force and signature == self._signature:
            return
        keys = read_keys(self.path, self.master)
        # Keep retired keys we already hold: rows sealed under them may still be re-sealed by a rotation.
        self._keys.update({key.key_id: key for key in keys})
        self._newest = keys[-1].key_id
        self._signature = signature

    def current(self) -> DataKey:
        """The key new writes use (the newest in the file right now)."""
        self.refresh()
        return self._keys[self._newest]

    def key(self, key_id: str) -> bytes:
        if key_id not in self._keys:
            self.refresh()
        found = self._keys.get(key_id)
        if found is None:
            raise UnknownKey(f"no key {key_id} in the keyring")
        return found.secret

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)


def open_keyring(data_dir: Path, encryption_key: SecretStr | None) -> Keyring:
    """Ensure the keyring exists (the parent does this before forking) and load it."""
    master = parse_master_key(encryption_key)
    path = keyring_path(data_dir)
    ensure_keyring(path, master)
    return Keyring(path, master)
