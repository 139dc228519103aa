"""Digest hash algorithms (RFC 7616, RFC 8760): the table of supported algorithms and the HA1/response/userhash
computations. Pure functions; see ``app.sip.digest`` for the rules they serve."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

AlgorithmName = Literal["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"]
MinAlgorithm = Literal["MD5", "SHA-256", "SHA-512-256"]

# canonical name -> (hashlib name, strength rank, is -sess)
ALGORITHM_TABLE: dict[str, tuple[str, int, bool]] = {
    "MD5": ("md5", 0, False),
    "MD5-sess": ("md5", 0, True),
    "SHA-256": ("sha256", 1, False),
    "SHA-256-sess": ("sha256", 1, True),
    "SHA-512-256": ("sha512_256", 2, False),
    "SHA-512-256-sess": ("sha512_256", 2, True),
}
ALGORITHMS: tuple[str, ...] = tuple(ALGORITHM_TABLE)
BY_UPPER = {name.upper(): name for name in ALGORITHM_TABLE}
MIN_RANK: dict[str, int] = {"MD5": 0, "SHA-256": 1, "SHA-512-256": 2}

if "sha512_256" not in hashlib.algorithms_available:  # pragma: no cover - depends on OpenSSL build
    raise RuntimeError(
        "hashlib lacks sha512_256 (FIPS 180-4 SHA-512/256); refusing to run with a wrong SHA-512-256 digest"
    )


class ChallengeKind(StrEnum):
    """Which header carried the challenge; decides the header we answer with."""

    WWW = "WWW-Authenticate"
    PROXY = "Proxy-Authenticate"

    @property
    def credentials_header(self) -> str:
        return "Authorization" if self is ChallengeKind.WWW else "Proxy-Authorization"


# --------------------------------------------------------------------------------------------------
# Hashing


def _hashlib_name(algorithm: str) -> str:
    return ALGORITHM_TABLE[canonical_algorithm(algorithm)][0]


def canonical_algorithm(algorithm: str) -> str:
    try:
        return BY_UPPER[algorithm.upper()]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None


def hash_hex(algorithm: str, data: bytes) -> str:
    """Lowercase hex digest of ``data`` with the hash behind ``algorithm`` (``-sess`` ignored)."""
    name = _hashlib_name(algorithm)
    if name == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    return hashlib.new(name, data).hexdigest()


def digest_of(algorithm: str, *parts: str) -> str:
    return hash_hex(algorithm, ":".join(parts).encode("utf-8"))


def compute_ha1(algorithm: str, username: str, realm: str, password: str, nonce: str = "", cnonce: str = "") -> str:
    """HA1; for ``-sess`` the inner hash is the hex text (RFC 2617 §3.2.2.2, erratum 1649)."""
    ha1 = digest_of(algorithm, username, realm, password)
    if ALGORITHM_TABLE[canonical_algorithm(algorithm)][2]:
        ha1 = digest_of(algorithm, ha1, nonce, cnonce)
    return ha1


def compute_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str = "",
    cnonce: str = "",
    body: bytes = b"",
    ha1: str | None = None,
) -> str:
    """The ``response`` value. ``qop`` is ``"auth"``, ``"auth-int"`` or None (RFC 2069 mode)."""
    if ha1 is None:
        ha1 = compute_ha1(algorithm, username, realm, password, nonce, cnonce)
    if qop == "auth-int":
        ha2 = digest_of(algorithm, method, uri, hash_hex(algorithm, body))
    elif qop in (None, "auth"):
        ha2 = digest_of(algorithm, method, uri)
    else:
        raise ValueError(f"unsupported qop {qop!r}")
    if qop is None:
        return digest_of(algorithm, ha1, nonce, ha2)
    return digest_of(algorithm, ha1, nonce, nc, cnonce, qop, ha2)


def compute_userhash(algorithm: str, username: str, realm: str) -> str:
    """RFC 7616 §3.4.4: username sent when ``userhash=true``."""
    return digest_of(algorithm, username, realm)
