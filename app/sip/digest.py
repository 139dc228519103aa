"""SIP digest authentication for our UAC (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

Pure module: no I/O except the injected async credential lookup. The rules implemented here are the
ones written down in ``shared/reference/sip-digest.md``:

* every ``WWW-Authenticate`` / ``Proxy-Authenticate`` row is parsed; one header value may hold several
  challenges; unknown schemes, unknown algorithms and unusable ``qop`` lists are ignored;
* per (header kind, realm) the strongest supported hash wins (SHA-512-256 > SHA-256 > MD5), the plain
  form before ``-sess``, ties go to the earlier row;
* realms are compared byte for byte (case sensitive), usernames and passwords are hashed as UTF-8
  exactly as configured;
* loop guard (§1.8): same realm and nonce refused -> stop; ``stale=true`` -> retry (at most
  :data:`MAX_STALE_RETRIES` per realm); a new nonce without ``stale`` after an answer -> one more try;
  at most :data:`MAX_CHALLENGES` challenged responses answered per original request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

__all__ = [
    "ALGORITHMS",
    "MAX_CHALLENGES",
    "MAX_STALE_RETRIES",
    "AlgorithmName",
    "AnsweredChallenge",
    "Challenge",
    "ChallengeKind",
    "ChallengeTracker",
    "CredentialLookup",
    "CredentialsRejectedError",
    "DigestError",
    "DigestSession",
    "NoCredentialError",
    "NoUsableChallengeError",
    "TooManyChallengesError",
    "build_credentials",
    "choose_challenges",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
    "hash_hex",
    "parse_challenge_value",
    "parse_challenges",
]

CredentialLookup = Callable[[str], Awaitable[tuple[str, str] | None]]
"""realm -> (username, password), or None when no credential is configured for that realm."""

AlgorithmName = Literal["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"]
MinAlgorithm = Literal["MD5", "SHA-256", "SHA-512-256"]

MAX_CHALLENGES = 3
"""Hard cap: challenged responses answered per original request (a further one ends the request)."""
MAX_STALE_RETRIES = 2
"""``stale=true`` retries allowed per (kind, realm) within one original request."""
MAX_UNFLAGGED_NEW_NONCE_RETRIES = 1
"""Retries after a new nonce without ``stale`` for a realm already answered (Kamailio behaviour)."""

# canonical name -> (hashlib name, strength rank, is -sess)
_ALGORITHM_TABLE: dict[str, tuple[str, int, bool]] = {
    "MD5": ("md5", 0, False),
    "MD5-sess": ("md5", 0, True),
    "SHA-256": ("sha256", 1, False),
    "SHA-256-sess": ("sha256", 1, True),
    "SHA-512-256": ("sha512_256", 2, False),
    "SHA-512-256-sess": ("sha512_256", 2, True),
}
ALGORITHMS: tuple[str, ...] = tuple(_ALGORITHM_TABLE)
_BY_UPPER = {name.upper(): name for name in _ALGORITHM_TABLE}
_MIN_RANK: dict[str, int] = {"MD5": 0, "SHA-256": 1, "SHA-512-256": 2}

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


class DigestError(Exception):
    """Base class: the request cannot be (further) authenticated."""


class NoCredentialError(DigestError):
    """No credential configured for the challenging realm(s)."""

    def __init__(self, realms: Sequence[str]) -> None:
        self.realms = tuple(realms)
        names = ", ".join(f'"{r}"' for r in self.realms)
        super().__init__(f"no SIP credential for realm {names}")


class CredentialsRejectedError(DigestError):
    """The server challenged again with the nonce we just answered: credentials refused."""

    def __init__(self, realm: str, reason: str = "credentials rejected") -> None:
        self.realm = realm
        super().__init__(f'{reason} for realm "{realm}"')


class TooManyChallengesError(DigestError):
    def __init__(self, count: int) -> None:
        super().__init__(f"gave up after {count} challenged responses")


class NoUsableChallengeError(DigestError):
    """Challenges present but none usable (unknown scheme/algorithm/qop, or below the minimum)."""


# --------------------------------------------------------------------------------------------------
# Hashing


def _hashlib_name(algorithm: str) -> str:
    return _ALGORITHM_TABLE[_canonical(algorithm)][0]


def _canonical(algorithm: str) -> str:
    try:
        return _BY_UPPER[algorithm.upper()]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None


def hash_hex(algorithm: str, data: bytes) -> str:
    """Lowercase hex digest of ``data`` with the hash behind ``algorithm`` (``-sess`` ignored)."""
    name = _hashlib_name(algorithm)
    if name == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    return hashlib.new(name, data).hexdigest()


def _h(algorithm: str, *parts: str) -> str:
    return hash_hex(algorithm, ":".join(parts).encode("utf-8"))


def compute_ha1(algorithm: str, username: str, realm: str, password: str, nonce: str = "", cnonce: str = "") -> str:
    """HA1; for ``-sess`` the inner hash is the hex text (RFC 2617 §3.2.2.2, erratum 1649)."""
    ha1 = _h(algorithm, username, realm, password)
    if _ALGORITHM_TABLE[_canonical(algorithm)][2]:
        ha1 = _h(algorithm, ha1, nonce, cnonce)
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
        ha2 = _h(algorithm, method, uri, hash_hex(algorithm, body))
    elif qop in (None, "auth"):
        ha2 = _h(algorithm, method, uri)
    else:
        raise ValueError(f"unsupported qop {qop!r}")
    if qop is None:
        return _h(algorithm, ha1, nonce, ha2)
    return _h(algorithm, ha1, nonce, nc, cnonce, qop, ha2)


def compute_userhash(algorithm: str, username: str, realm: str) -> str:
    """RFC 7616 §3.4.4: username sent when ``userhash=true``."""
    return _h(algorithm, username, realm)


# --------------------------------------------------------------------------------------------------
# Parsing

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN68_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/")
_WS = " \t\r\n"


class _ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Challenge:
    """One parsed Digest challenge row (or one challenge out of a multi-challenge value)."""

    kind: ChallengeKind
    realm: str
    nonce: str
    algorithm: str  # canonical name, e.g. "SHA-256"
    algorithm_token: str | None  # as received, echoed back; None when absent (means MD5)
    qop_options: tuple[str, ...]  # lowercased tokens as offered; empty = no qop
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False
    index: int = 0  # order of appearance in the response

    @property
    def rank(self) -> int:
        return _ALGORITHM_TABLE[self.algorithm][1]

    @property
    def is_sess(self) -> bool:
        return _ALGORITHM_TABLE[self.algorithm][2]

    @property
    def qop(self) -> str | None:
        """The qop we send: ``auth`` when offered, ``auth-int`` if it is the only option, else None."""
        if not self.qop_options:
            return None
        if "auth" in self.qop_options:
            return "auth"
        if "auth-int" in self.qop_options:
            return "auth-int"
        return None

    @property
    def usable(self) -> bool:
        return not self.qop_options or self.qop is not None


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _read_token(s: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(s) and s[i] in _TOKEN_CHARS:
        i += 1
    return s[start:i], i


def _read_quoted(s: str, i: int) -> tuple[str, int]:
    assert s[i] == '"'
    i += 1
    out: list[str] = []
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise _ParseError("dangling backslash in quoted string")
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise _ParseError("unterminated quoted string")


_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t\r\n]*(?=,|$)")


def _split_challenges(value: str) -> list[tuple[str, dict[str, str]]]:
    """Split one header value into ``[(scheme, {param: value})]``; raises _ParseError if malformed."""
    result: list[tuple[str, dict[str, str]]] = []
    current: tuple[str, dict[str, str]] | None = None
    i = 0
    n = len(value)
    while True:
        i = _skip_ws(value, i)
        while i < n and value[i] == ",":
            i = _skip_ws(value, i + 1)
        if i >= n:
            break
        token, j = _read_token(value, i)
        if not token:
            raise _ParseError(f"unexpected character {value[i]!r} at {i}")
        k = _skip_ws(value, j)
        if k < n and value[k] == "=":
            if current is None:
                raise _ParseError("parameter before any scheme")
            m = _skip_ws(value, k + 1)
            if m < n and value[m] == '"':
                pval, i = _read_quoted(value, m)
            else:
                pval, i = _read_token(value, m)
                if not pval:
                    raise _ParseError(f"bad value for parameter {token!r}")
            name = token.lower()
            if name in current[1]:
                raise _ParseError(f"duplicate parameter {name!r}")
            current[1][name] = pval
            i = _skip_ws(value, i)
            if i < n and value[i] != ",":
                raise _ParseError(f"expected ',' after parameter {name!r}")
            continue
        # A new scheme token, optionally followed by a token68 (e.g. "Basic dXNlcg==").
        if j < n and value[j] not in _WS and value[j] != ",":
            raise _ParseError(f"unexpected character {value[j]!r} after scheme")
        current = (token, {})
        result.append(current)
        i = _skip_ws(value, j)
        m68 = _TOKEN68_RE.match(value, i)
        if m68 is not None and i < n and value[i] != ",":
            current[1][""] = m68.group(0).strip()
            i = m68.end()
    return result


def parse_challenge_value(kind: ChallengeKind, value: str, index: int = 0) -> list[Challenge]:
    """Parse one header value; returns the usable Digest challenges (possibly empty).

    Raises ValueError for a malformed value.
    """
    try:
        parsed = _split_challenges(value)
    except _ParseError as exc:
        raise ValueError(str(exc)) from None
    out: list[Challenge] = []
    for scheme, params in parsed:
        if scheme.lower() != "digest":
            continue
        realm = params.get("realm")
        nonce = params.get("nonce")
        if realm is None or nonce is None:
            continue
        token = params.get("algorithm")
        if token is None:
            algorithm = "MD5"
        else:
            canon = _BY_UPPER.get(token.upper())
            if canon is None:
                continue  # unknown algorithm: ignore this challenge (RFC 8760 §2.4)
            algorithm = canon
        qop_raw = params.get("qop")
        qops: tuple[str, ...] = ()
        if qop_raw is not None:
            qops = tuple(q.strip().lower() for q in qop_raw.split(",") if q.strip())
        ch = Challenge(
            kind=kind,
            realm=realm,
            nonce=nonce,
            algorithm=algorithm,
            algorithm_token=token,
            qop_options=qops,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
            userhash=params.get("userhash", "").lower() == "true",
            index=index + len(out),
        )
        if ch.usable:
            out.append(ch)
    return out


def parse_challenges(headers: Iterable[tuple[str, str]]) -> list[Challenge]:
    """Every usable Digest challenge in a response's header rows, in order of appearance.

    ``headers`` are (name, value) rows; names are matched case-insensitively. Malformed rows are skipped.
    """
    out: list[Challenge] = []
    for name, value in headers:
        lname = name.strip().lower()
        if lname == "www-authenticate":
            kind = ChallengeKind.WWW
        elif lname == "proxy-authenticate":
            kind = ChallengeKind.PROXY
        else:
            continue
        try:
            out.extend(parse_challenge_value(kind, value, index=len(out)))
        except ValueError:
            continue
    return out


def choose_challenges(challenges: Iterable[Challenge], min_algorithm: str = "MD5") -> list[Challenge]:
    """Per (kind, realm): the strongest hash, plain before -sess, ties to the earlier row.

    Challenges below ``min_algorithm`` are dropped. Result in order of first appearance.
    """
    min_rank = _MIN_RANK[min_algorithm]
    best: dict[tuple[ChallengeKind, str], Challenge] = {}
    for ch in challenges:
        if ch.rank < min_rank or not ch.usable:
            continue
        key = (ch.kind, ch.realm)
        cur = best.get(key)
        if cur is None or (ch.rank, not ch.is_sess, -ch.index) > (cur.rank, not cur.is_sess, -cur.index):
            best[key] = ch
    return sorted(best.values(), key=lambda c: c.index)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_credentials(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    body: bytes = b"",
    cnonce: str = "",
    nc: int = 1,
    ha1: str | None = None,
) -> tuple[str, str]:
    """(header name, header value) answering ``challenge`` for one request."""
    qop = challenge.qop
    nc_text = f"{nc:08x}"
    if qop is None:
        cnonce = ""
        nc_text = ""
    elif not cnonce:
        raise ValueError("cnonce required with qop")
    if ha1 is None:
        ha1 = compute_ha1(challenge.algorithm, username, challenge.realm, password, challenge.nonce, cnonce)
    response = compute_response(
        algorithm=challenge.algorithm,
        username=username,
        realm=challenge.realm,
        password=password,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
        ha1=ha1,
    )
    sent_user = compute_userhash(challenge.algorithm, username, challenge.realm) if challenge.userhash else username
    parts = [
        f"username={_quote(sent_user)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
    ]
    if challenge.algorithm_token is not None:
        parts.append(f"algorithm={challenge.algorithm_token}")
    if qop is not None:
        parts.append(f"cnonce={_quote(cnonce)}")
        parts.append(f"qop={qop}")
        parts.append(f"nc={nc_text}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    if challenge.userhash:
        parts.append("userhash=true")
    return challenge.kind.credentials_header, "Digest " + ", ".join(parts)


# --------------------------------------------------------------------------------------------------
# State


def _new_cnonce() -> str:
    return secrets.token_hex(16)


@dataclass
class _NonceState:
    challenge: Challenge
    username: str
    password: str
    cnonce: str
    nc: int = 0
    ha1: str = ""


@dataclass(frozen=True)
class AnsweredChallenge:
    """What we answered: kind, realm, algorithm (canonical) for status reporting."""

    kind: ChallengeKind
    realm: str
    algorithm: str


class DigestSession:
    """Long-lived digest state for one peer context (e.g. one registration binding).

    Holds the last nonce per (kind, realm) with its nc counter, cnonce and session HA1, so that later
    requests can carry pre-emptive credentials (nc incremented). Use :meth:`tracker` per original request.
    """

    def __init__(
        self,
        lookup: CredentialLookup,
        *,
        min_algorithm: str = "MD5",
        cnonce_factory: Callable[[], str] = _new_cnonce,
    ) -> None:
        if min_algorithm not in _MIN_RANK:
            raise ValueError(f"unsupported minimum digest algorithm {min_algorithm!r}")
        self.lookup = lookup
        self.min_algorithm = min_algorithm
        self._cnonce_factory = cnonce_factory
        self._nonces: dict[tuple[ChallengeKind, str], _NonceState] = {}

    def forget(self, realm: str | None = None) -> None:
        """Stop pre-emptive use (all realms, or one), e.g. after a refusal."""
        if realm is None:
            self._nonces.clear()
        else:
            for key in [k for k in self._nonces if k[1] == realm]:
                del self._nonces[key]

    def tracker(self) -> ChallengeTracker:
        return ChallengeTracker(self)

    def _answer(
        self, ch: Challenge, username: str, password: str, method: str, uri: str, body: bytes, new_nonce: bool
    ) -> tuple[str, str]:
        key = (ch.kind, ch.realm)
        st = self._nonces.get(key)
        if (
            new_nonce
            or st is None
            or st.challenge.nonce != ch.nonce
            or (st.username, st.password)
            != (
                username,
                password,
            )
        ):
            cnonce = self._cnonce_factory() if ch.qop is not None else ""
            ha1 = compute_ha1(ch.algorithm, username, ch.realm, password, ch.nonce, cnonce)
            st = _NonceState(challenge=ch, username=username, password=password, cnonce=cnonce, ha1=ha1)
            self._nonces[key] = st
        st.nc += 1
        return build_credentials(
            st.challenge,
            username=username,
            password=password,
            method=method,
            uri=uri,
            body=body,
            cnonce=st.cnonce,
            nc=st.nc,
            ha1=st.ha1,
        )

    def preemptive(self, method: str, uri: str, body: bytes = b"") -> tuple[list[tuple[str, str]], list[Challenge]]:
        """Credential rows for every cached nonce (nc incremented), and the challenges they answer."""
        rows: list[tuple[str, str]] = []
        used: list[Challenge] = []
        for st in list(self._nonces.values()):
            ch = st.challenge
            rows.append(self._answer(ch, st.username, st.password, method, uri, body, new_nonce=False))
            used.append(ch)
        return rows, used


@dataclass
class ChallengeTracker:
    """Per original request: answers 401/407 responses and applies the loop guard (reference §1.8)."""

    session: DigestSession
    challenged_responses: int = 0
    answered: set[tuple[ChallengeKind, str, str]] = field(default_factory=set)
    stale_retries: dict[tuple[ChallengeKind, str], int] = field(default_factory=dict)
    unflagged_retries: dict[tuple[ChallengeKind, str], int] = field(default_factory=dict)
    unanswerable: set[str] = field(default_factory=set)
    used: list[AnsweredChallenge] = field(default_factory=list)

    credentials: dict[tuple[ChallengeKind, str], tuple[str, str]] = field(default_factory=dict)

    def note_preemptive(self, challenges: Iterable[Challenge], rows: Iterable[tuple[str, str]]) -> None:
        """Record pre-emptively sent credentials (reported as used).

        They do not count as answered nonces: a challenge after a pre-emptive attempt is answered afresh
        (new cnonce, nc=1), and only a refusal of *that* answer ends the request.
        """
        for ch, row in zip(challenges, rows, strict=True):
            self._record(ch, row)

    def _record(self, ch: Challenge, row: tuple[str, str]) -> None:
        self.credentials[(ch.kind, ch.realm)] = row
        self.used[:] = [u for u in self.used if (u.kind, u.realm) != (ch.kind, ch.realm)]
        self.used.append(AnsweredChallenge(ch.kind, ch.realm, ch.algorithm))

    def credential_rows(self) -> list[tuple[str, str]]:
        """Every credential row for the next attempt: one per (kind, realm) answered so far.

        Authorization rows come before Proxy-Authorization rows (order is irrelevant in SIP; some tools,
        e.g. SIPp 3.6.1, find "Authorization:" by substring and would otherwise read the proxy row).
        """
        return sorted(self.credentials.values(), key=lambda row: row[0] != "Authorization")

    async def answer(
        self, headers: Iterable[tuple[str, str]], *, method: str, uri: str, body: bytes = b""
    ) -> list[tuple[str, str]]:
        """Credential rows for the retry of a challenged request (401/407 ``headers``).

        Raises a :class:`DigestError` when the request must end instead.
        """
        self.challenged_responses += 1
        if self.challenged_responses > MAX_CHALLENGES:
            raise TooManyChallengesError(MAX_CHALLENGES)
        all_challenges = parse_challenges(headers)
        chosen = choose_challenges(all_challenges, self.session.min_algorithm)
        if not chosen:
            if all_challenges:
                algs = ", ".join(sorted({f'{c.algorithm} for realm "{c.realm}"' for c in all_challenges}))
                raise NoUsableChallengeError(
                    f"challenge refused by local policy: minimum digest algorithm is "
                    f"{self.session.min_algorithm}, offered {algs}"
                )
            raise NoUsableChallengeError("no usable Digest challenge in the response")

        # Loop guard first: any refused realm ends the request.
        plan: list[tuple[Challenge, bool]] = []
        for ch in chosen:
            key = (ch.kind, ch.realm)
            if ch.realm in self.unanswerable:
                raise NoCredentialError([ch.realm])
            answered_before = any(k[0] == ch.kind and k[1] == ch.realm for k in self.answered)
            if (ch.kind, ch.realm, ch.nonce) in self.answered and not ch.stale:
                self.session.forget(ch.realm)
                raise CredentialsRejectedError(ch.realm)
            if ch.stale:
                n = self.stale_retries.get(key, 0) + 1
                if n > MAX_STALE_RETRIES:
                    self.session.forget(ch.realm)
                    raise CredentialsRejectedError(ch.realm, "too many stale nonces")
                self.stale_retries[key] = n
            elif answered_before:
                n = self.unflagged_retries.get(key, 0) + 1
                if n > MAX_UNFLAGGED_NEW_NONCE_RETRIES:
                    self.session.forget(ch.realm)
                    raise CredentialsRejectedError(ch.realm)
                self.unflagged_retries[key] = n
            plan.append((ch, True))

        rows: list[tuple[str, str]] = []
        missing: list[str] = []
        for ch, new_nonce in plan:
            cred = await self.session.lookup(ch.realm)
            if cred is None:
                if ch.realm not in missing:
                    missing.append(ch.realm)
                self.unanswerable.add(ch.realm)
                continue
            username, password = cred
            row = self.session._answer(ch, username, password, method, uri, body, new_nonce)
            rows.append(row)
            self.answered.add((ch.kind, ch.realm, ch.nonce))
            self._record(ch, row)
        if not rows:
            raise NoCredentialError(missing)
        return rows
