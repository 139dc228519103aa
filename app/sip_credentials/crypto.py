"""AES-256-GCM sealing of one credential's password, bound to the row it belongs to.

A sealed password is ``key_id`` (stored in its own column) plus a blob ``version || nonce || ciphertext+tag``.
The associated data binds the format version, the key id, the row id, the realm and the username, so a
blob copied into another row, or a row whose realm or username was changed behind our back, fails to open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = 1
_AAD_LABEL = b"adhoc-bridge sip_credential password"


class UndecryptableSecret(Exception):
    """The blob does not open under the named key for this row (tampered, moved, or wrong key)."""


class UnknownKey(UndecryptableSecret):
    """The blob names a key id the keyring does not hold."""


@dataclass(frozen=True, slots=True)
class RowBinding:
    """What a password is bound to: the row's id, realm and username."""

    row_id: int
    realm: str
    username: str


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    blob: bytes


def _associated_data(version: int, key_id: str, binding: RowBinding) -> bytes:
    parts = (
        _AAD_LABEL,
        bytes([version]),
        key_id.encode(),
        str(binding.row_id).encode(),
        binding.realm.encode(),
        binding.username.encode(),
    )
    # Length-prefixed, so no two different tuples produce the same bytes.
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def seal(key_id: str, key: bytes, plaintext: str, binding: RowBinding) -> Sealed:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), _associated_data(FORMAT_V1, key_id, binding))
    return Sealed(key_id, bytes([FORMAT_V1]) + nonce + ciphertext)


def open_sealed(key: bytes, sealed: Sealed, binding: RowBinding) -> str:
    blob = sealed.blob
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != FORMAT_V1:
        raise UndecryptableSecret("unsupported or truncated ciphertext")
    nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(FORMAT_V1, sealed.key_id, binding))
    except InvalidTag:
        raise UndecryptableSecret("authentication tag mismatch") from None
    return plaintext.decode()
