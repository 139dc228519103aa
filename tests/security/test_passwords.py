"""Hashes we generate use the OWASP argon2id profile; hashes made with other parameters still verify."""

from __future__ import annotations

import pytest
from passlib.hash import argon2

from app.security.passwords import hash_password, verify_password

PASSWORD = "Owasp-profile-pw 5d0e"


def test_new_hashes_are_argon2id_with_the_owasp_parameters() -> None:
    password_hash = hash_password(PASSWORD)
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(PASSWORD, password_hash)
    assert not verify_password(PASSWORD + "x", password_hash)


@pytest.mark.parametrize(
    "hasher",
    [argon2, argon2.using(memory_cost=65536, rounds=3, parallelism=4), argon2.using(memory_cost=8192, rounds=4)],
    ids=["libpass default", "64 MiB t=3 p=4", "8 MiB t=4"],
)
def test_hashes_with_other_argon2_parameters_still_verify(hasher: type[argon2]) -> None:
    password_hash = hasher.hash(PASSWORD)
    assert verify_password(PASSWORD, password_hash)
    assert not verify_password(PASSWORD.upper(), password_hash)
