"""A sealed password opens only under its key, for its own row (id, realm and username)."""

from __future__ import annotations

import os

import pytest

from app.sip_credentials.crypto import RowBinding, Sealed, UndecryptableSecret, open_sealed, seal

KEY = os.urandom(32)
ROW = RowBinding(7, "Example.COM", "alice")


def test_round_trip_keeps_every_character() -> None:
    password = "pä55 wörd\\\"'"
    assert open_sealed(KEY, seal("k1", KEY, password, ROW), ROW) == password


def test_ciphertext_does_not_contain_the_password() -> None:
    sealed = seal("k1", KEY, "SipPw-Alpha-7f3c", ROW)
    assert b"SipPw-Alpha-7f3c" not in sealed.blob
    assert seal("k1", KEY, "SipPw-Alpha-7f3c", ROW).blob != sealed.blob  # fresh nonce each time


@pytest.mark.parametrize(
    "other",
    [
        RowBinding(8, "Example.COM", "alice"),
        RowBinding(7, "example.com", "alice"),
        RowBinding(7, "Example.COM", "Alice"),
        RowBinding(7, "Example.COM ", "alice"),
    ],
    ids=["other-row", "realm-case", "username-case", "realm-trailing-space"],
)
def test_another_row_cannot_open_it(other: RowBinding) -> None:
    sealed = seal("k1", KEY, "secret", ROW)
    with pytest.raises(UndecryptableSecret):
        open_sealed(KEY, sealed, other)


def test_wrong_key_or_key_id_or_tampering_fails() -> None:
    sealed = seal("k1", KEY, "secret", ROW)
    with pytest.raises(UndecryptableSecret):
        open_sealed(os.urandom(32), sealed, ROW)
    with pytest.raises(UndecryptableSecret):
        open_sealed(KEY, Sealed("k2", sealed.blob), ROW)
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    with pytest.raises(UndecryptableSecret):
        open_sealed(KEY, Sealed("k1", bytes(flipped)), ROW)


def test_unknown_format_version_is_refused() -> None:
    sealed = seal("k1", KEY, "secret", ROW)
    with pytest.raises(UndecryptableSecret, match="unsupported"):
        open_sealed(KEY, Sealed("k1", b"\x02" + sealed.blob[1:]), ROW)
    with pytest.raises(UndecryptableSecret):
        open_sealed(KEY, Sealed("k1", sealed.blob[:10]), ROW)
