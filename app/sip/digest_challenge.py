"""Parsing ``WWW-Authenticate``/``Proxy-Authenticate`` Digest challenges and choosing the ones to answer (the
strongest algorithm per header kind and realm); see ``app.sip.digest`` for the rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.sip.digest_hash import ALGORITHM_TABLE, BY_UPPER, MIN_RANK, ChallengeKind

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
        return ALGORITHM_TABLE[self.algorithm][1]

    @property
    def is_sess(self) -> bool:
        return ALGORITHM_TABLE[self.algorithm][2]

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
            canon = BY_UPPER.get(token.upper())
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
    min_rank = MIN_RANK[min_algorithm]
    best: dict[tuple[ChallengeKind, str], Challenge] = {}
    for ch in challenges:
        if ch.rank < min_rank or not ch.usable:
            continue
        key = (ch.kind, ch.realm)
        cur = best.get(key)
        if cur is None or (ch.rank, not ch.is_sess, -ch.index) > (cur.rank, not cur.is_sess, -cur.index):
            best[key] = ch
    return sorted(best.values(), key=lambda c: c.index)
