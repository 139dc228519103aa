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

import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

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

from app.sip.digest_challenge import Challenge, choose_challenges, parse_challenge_value, parse_challenges
from app.sip.digest_hash import (
    ALGORITHMS,
    MIN_RANK,
    AlgorithmName,
    ChallengeKind,
    compute_ha1,
    compute_response,
    compute_userhash,
    hash_hex,
)

CredentialLookup = Callable[[str], Awaitable[tuple[str, str] | None]]
"""realm -> (username, password), or None when no credential is configured for that realm."""

MAX_CHALLENGES = 3
"""Hard cap: challenged responses answered per original request (a further one ends the request)."""
MAX_STALE_RETRIES = 2
"""``stale=true`` retries allowed per (kind, realm) within one original request."""
MAX_UNFLAGGED_NEW_NONCE_RETRIES = 1
"""Retries after a new nonce without ``stale`` for a realm already answered (Kamailio behaviour)."""


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
        if min_algorithm not in MIN_RANK:
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
