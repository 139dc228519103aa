"""Digest arithmetic and challenge handling; vectors from shared/reference/sip-digest.md section 2."""

from __future__ import annotations

import hashlib
import re

import pytest

from app.sip.digest import (
    MAX_CHALLENGES,
    Challenge,
    ChallengeKind,
    CredentialLookup,
    CredentialsRejectedError,
    DigestSession,
    NoCredentialError,
    NoUsableChallengeError,
    TooManyChallengesError,
    build_credentials,
    choose_challenges,
    compute_ha1,
    compute_response,
    compute_userhash,
    hash_hex,
    parse_challenge_value,
    parse_challenges,
)


def _r(algorithm: str, v: dict[str, str], *, body: bytes = b"", ha1: str | None = None) -> str:
    """compute_response with the vector's fields (qop/nc/cnonce optional in the dict)."""
    return compute_response(
        algorithm=algorithm,
        username=v["username"],
        realm=v["realm"],
        password=v["password"],
        method=v["method"],
        uri=v["uri"],
        nonce=v["nonce"],
        qop=v.get("qop"),
        nc=v.get("nc", ""),
        cnonce=v.get("cnonce", ""),
        body=body,
        ha1=ha1,
    )


# --------------------------------------------------------------------------------------------------
# 2.1 RFC 2617 §3.5 (published response)

RFC2617: dict[str, str] = {
    "username": "Mufasa",
    "realm": "testrealm@host.com",
    "password": "Circle Of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
}


def test_rfc2617_published_response() -> None:
    assert compute_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"
    assert hash_hex("MD5", b"GET:/dir/index.html") == "39aff3a2bab6126f332b942af96d3366"
    r = _r("MD5", RFC2617 | {"qop": "auth", "nc": "00000001", "cnonce": "0a4f113b"})
    assert r == "6629fae49393a05397450978507c4ef1"


def test_rfc2617_without_qop_rfc2069_mode() -> None:
    assert _r("MD5", RFC2617) == "670fd8c2df070c60b045671b8b24ff02"


def test_rfc2617_full_header_through_build_credentials() -> None:
    ch = parse_challenge_value(
        ChallengeKind.WWW,
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    )[0]
    name, value = build_credentials(
        ch, username="Mufasa", password="Circle Of Life", method="GET", uri="/dir/index.html", cnonce="0a4f113b"
    )
    assert name == "Authorization"
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value
    assert "qop=auth," in value
    assert "nc=00000001" in value
    assert "algorithm=" not in value  # absent in the challenge: echoed as absent


# --------------------------------------------------------------------------------------------------
# 2.2 RFC 7616 §3.9.1 (published, with verified erratum 4495 "Circle of Life")

RFC7616: dict[str, str] = {
    "username": "Mufasa",
    "password": "Circle of Life",
    "realm": "http-auth@example.org",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "qop": "auth",
}


def test_rfc7616_md5() -> None:
    assert compute_ha1("MD5", "Mufasa", "http-auth@example.org", "Circle of Life") == "3d78807defe7de2157e2b0b6573a855f"
    assert _r("MD5", RFC7616) == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_md5_capital_of_is_wrong() -> None:
    vec = dict(RFC7616, password="Circle Of Life")
    assert _r("MD5", vec) == "d142103549841c8d7adb7716345048f2"
    assert _r("MD5", vec) != "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc7616_sha256() -> None:
    assert (
        compute_ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")
        == "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
    )
    assert hash_hex("SHA-256", b"GET:/dir/index.html") == (
        "9a3fdae9a622fe8de177c24fa9c070f2b181ec85e15dcbdc32e10c82ad450b04"
    )
    assert _r("SHA-256", RFC7616) == ("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")


# --------------------------------------------------------------------------------------------------
# 2.3 RFC 7616 §3.9.2 SHA-512-256 + userhash: erratum 4897 values are right, printed ones are SHA-512/trunc

RFC7616_2: dict[str, str] = {
    "username": "J\u00e4s\u00f8n Doe",
    "password": "Secret, or not?",
    "realm": "api@example.org",
    "method": "GET",
    "uri": "/doe.json",
    "nonce": "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
    "nc": "00000001",
    "cnonce": "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
    "qop": "auth",
}
ERRATUM_USERHASH = "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
ERRATUM_RESPONSE = "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
PRINTED_USERHASH = "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec"
PRINTED_RESPONSE = "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd"


def test_username_utf8_octets() -> None:
    assert RFC7616_2["username"].encode() == bytes.fromhex("4AC3A473C3B86E20446F65")


def test_erratum_4897_sha512_256_userhash() -> None:
    assert compute_userhash("SHA-512-256", RFC7616_2["username"], "api@example.org") == ERRATUM_USERHASH
    assert _r("SHA-512-256", RFC7616_2) == ERRATUM_RESPONSE


def test_printed_rfc7616_values_are_truncated_sha512_not_ours() -> None:
    assert compute_userhash("SHA-512-256", RFC7616_2["username"], "api@example.org") != PRINTED_USERHASH
    assert _r("SHA-512-256", RFC7616_2) != PRINTED_RESPONSE
    # ...and they are indeed SHA-512 cut to 64 hex digits:
    trunc = hashlib.sha512(f"{RFC7616_2['username']}:api@example.org".encode()).hexdigest()[:64]
    assert trunc == PRINTED_USERHASH


def test_sha512_256_is_not_truncated_sha512() -> None:
    assert hash_hex("SHA-512-256", b"") == "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a"
    assert hash_hex("SHA-512-256", b"") != hashlib.sha512(b"").hexdigest()[:64]


def test_userhash_header() -> None:
    ch = parse_challenge_value(
        ChallengeKind.WWW,
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true',
    )[0]
    _, value = build_credentials(
        ch,
        username=RFC7616_2["username"],
        password="Secret, or not?",
        method="GET",
        uri="/doe.json",
        cnonce=RFC7616_2["cnonce"],
    )
    assert f'username="{ERRATUM_USERHASH}"' in value
    assert f'response="{ERRATUM_RESPONSE}"' in value
    assert "userhash=true" in value
    assert "algorithm=SHA-512-256" in value


# --------------------------------------------------------------------------------------------------
# 2.4 SIP-flavoured vectors (derived here with hashlib, cross-checked with rfcvoip; not published)

SIP: dict[str, str] = {"username": "alice", "realm": "Test.Realm", "password": "S3cret!", "nonce": "d6f1c7c4b9e54c3a"}
QOP: dict[str, str] = {"nc": "00000001", "cnonce": "0a4f113b"}
M = "REGISTER"
U = "sip:registrar.example.com"


@pytest.mark.parametrize(
    ("algorithm", "method", "uri", "qop", "body", "expected"),
    [
        ("MD5", "REGISTER", "sip:registrar.example.com", "auth", b"", "9ad3293f57f7c85e75cbd8631e9f0f9e"),
        (
            "SHA-256",
            "REGISTER",
            "sip:registrar.example.com",
            "auth",
            b"",
            "4f720b6e96d7bbd9adcdb8cb3493f6d31e01b34151c22a0fcde5701a612197d3",
        ),
        (
            "SHA-512-256",
            "REGISTER",
            "sip:registrar.example.com",
            "auth",
            b"",
            "840c6bf52fddca9aa3bbd0df6a275bbe048f0e1c58129b82b321098283f6d425",
        ),
        ("MD5", "REGISTER", "sip:registrar.example.com", None, b"", "cdd5753f8a7792920d47283c6b653fe2"),
        (
            "SHA-256",
            "REGISTER",
            "sip:registrar.example.com",
            None,
            b"",
            "cbc00b2945ec93eef644e10425fcb12a3b90ec1a37e815539585b05788791d24",
        ),
        ("MD5", "INVITE", "sip:bob@example.com", "auth-int", b"", "e0fcc6465d89a9aca5af5287bd773537"),
        (
            "SHA-256",
            "INVITE",
            "sip:bob@example.com",
            "auth-int",
            b"v=0\r\n",
            "498068d148679307904c60fb3b8c9d30721956b273bc2466fd77f1ff6be5b938",
        ),
        ("MD5-sess", "OPTIONS", "sip:bob@example.com", "auth", b"", "cd5b2c09c0974869468efc1d38d14e7a"),
        (
            "SHA-256-sess",
            "OPTIONS",
            "sip:bob@example.com",
            "auth",
            b"",
            "264060760610038f529fb5cfa6fd57f9f750b828aaec5632ff6f15ff63854841",
        ),
    ],
)
def test_sip_vectors(algorithm: str, method: str, uri: str, qop: str | None, body: bytes, expected: str) -> None:
    extra: dict[str, str] = QOP if qop else {}
    vec = SIP | extra | {"method": method, "uri": uri} | ({"qop": qop} if qop else {})
    got = _r(algorithm, vec, body=body)
    assert got == expected


def test_sip_ha1_values() -> None:
    assert compute_ha1("MD5", "alice", "Test.Realm", "S3cret!") == "5b4169dfeb5d4e163d36a06b98735c2f"
    assert compute_ha1("SHA-256", "alice", "Test.Realm", "S3cret!") == (
        "64192efebf829359630afeac3dec1247ad9d5c1eaf8996e30a3541a7ee2cba34"
    )
    assert compute_ha1("SHA-512-256", "alice", "Test.Realm", "S3cret!") == (
        "cf50dac3330d295a998902fe5520d7559cf6719281c91a0add9db3dd44c0b05e"
    )


def test_empty_body_hashes() -> None:
    assert hash_hex("MD5", b"") == "d41d8cd98f00b204e9800998ecf8427e"
    assert hash_hex("SHA-256", b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sess_inner_hash_is_hex_text_not_binary() -> None:
    inner = hashlib.md5(b"alice:Test.Realm:S3cret!", usedforsecurity=False).hexdigest()
    expected = hashlib.md5(f"{inner}:d6f1c7c4b9e54c3a:0a4f113b".encode(), usedforsecurity=False).hexdigest()
    assert compute_ha1("MD5-sess", "alice", "Test.Realm", "S3cret!", "d6f1c7c4b9e54c3a", "0a4f113b") == expected


# --------------------------------------------------------------------------------------------------
# Parsing


def test_parse_folded_multirow_and_unknown_schemes() -> None:
    rows = [
        ("WWW-Authenticate", 'Digest realm="A",\r\n  nonce="n1" ,\tqop = "auth" , algorithm = SHA-256'),
        ("www-authenticate", "NoOneKnowsThisScheme opaque-data=here"),
        ("Proxy-Authenticate", 'Basic realm="x", Digest realm="B", nonce="n2", algorithm=md5, stale=TRUE'),
        ("PROXY-AUTHENTICATE", "Bearer abc.def==, DIGEST realm=C, nonce=n3"),
        ("Via", 'Digest realm="nope", nonce="x"'),
    ]
    chs = parse_challenges(rows)
    assert [(c.kind, c.realm, c.nonce, c.algorithm) for c in chs] == [
        (ChallengeKind.WWW, "A", "n1", "SHA-256"),
        (ChallengeKind.PROXY, "B", "n2", "MD5"),
        (ChallengeKind.PROXY, "C", "n3", "MD5"),
    ]
    assert chs[1].stale
    assert chs[1].algorithm_token == "md5"  # echoed as received
    assert chs[0].qop == "auth"
    assert chs[2].qop is None


def test_parse_quoted_pair_and_escapes() -> None:
    ch = parse_challenge_value(ChallengeKind.WWW, r'Digest realm="a \"q\" \\ b", nonce="n,1", opaque="o=p"')[0]
    assert ch.realm == 'a "q" \\ b'
    assert ch.nonce == "n,1"
    assert ch.opaque == "o=p"
    _, value = build_credentials(ch, username="u", password="p", method="OPTIONS", uri="sip:x")
    assert r'realm="a \"q\" \\ b"' in value


def test_parse_ignores_unknown_algorithm_and_unusable_qop() -> None:
    rows = [
        ("WWW-Authenticate", 'Digest realm="A", nonce="1", algorithm=SHA-1024'),
        ("WWW-Authenticate", 'Digest realm="A", nonce="2", qop="auth-conf"'),
        ("WWW-Authenticate", 'Digest realm="A", nonce="3", qop="auth-conf,auth-int"'),
        ("WWW-Authenticate", 'Digest realm="A"'),  # no nonce
        ("WWW-Authenticate", 'Digest realm="A", nonce="unterminated'),
        ("WWW-Authenticate", "Digest realm=, nonce=5"),
    ]
    chs = parse_challenges(rows)
    assert [c.nonce for c in chs] == ["3"]
    assert chs[0].qop == "auth-int"


# --------------------------------------------------------------------------------------------------
# Algorithm choice


def test_choose_strongest_per_realm_regardless_of_order() -> None:
    chs = parse_challenges(
        [
            ("WWW-Authenticate", 'Digest realm="R", nonce="a", algorithm=MD5, qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="R", nonce="b", algorithm=SHA-256, qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="R", nonce="c", algorithm=SHA-512-256-sess, qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="R", nonce="d", algorithm=SHA-512-256, qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="S", nonce="e", algorithm=MD5-sess, qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="S", nonce="f", qop="auth"'),
            ("WWW-Authenticate", 'Digest realm="S", nonce="g", qop="auth"'),
            ("Proxy-Authenticate", 'Digest realm="R", nonce="h", algorithm=SHA-256, qop="auth"'),
        ]
    )
    chosen = choose_challenges(chs)
    assert [(c.kind, c.realm, c.nonce) for c in chosen] == [
        (ChallengeKind.WWW, "R", "d"),
        (ChallengeKind.WWW, "S", "f"),
        (ChallengeKind.PROXY, "R", "h"),
    ]


def test_min_algorithm_drops_md5() -> None:
    chs = parse_challenges(
        [
            ("WWW-Authenticate", 'Digest realm="R", nonce="a", algorithm=MD5'),
            ("WWW-Authenticate", 'Digest realm="R", nonce="b", algorithm=SHA-256'),
            ("WWW-Authenticate", 'Digest realm="M", nonce="c"'),
        ]
    )
    assert [c.nonce for c in choose_challenges(chs, "SHA-256")] == ["b"]
    assert choose_challenges(chs, "SHA-512-256") == []


# --------------------------------------------------------------------------------------------------
# Tracker / loop guard


def _lookup(table: dict[str, tuple[str, str]]) -> CredentialLookup:
    async def lookup(realm: str) -> tuple[str, str] | None:
        return table.get(realm)

    return lookup


CREDS = {"Test.Realm": ("alice", "S3cret!"), "Other": ("bob", "pw")}


def _params(value: str) -> dict[str, str]:
    return {m.group(1): m.group(2) or m.group(3) for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', value)}


async def test_401_and_407_answered_with_right_headers_and_echo() -> None:
    counter = iter(["c1", "c2", "c3"])
    session = DigestSession(_lookup(CREDS), cnonce_factory=lambda: next(counter))
    tr = session.tracker()
    rows = await tr.answer(
        [
            ("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", opaque="op", qop="auth", algorithm=SHA-256'),
            ("Proxy-Authenticate", 'Digest realm="Other", nonce="n2", qop="auth-int"'),
        ],
        method="REGISTER",
        uri="sip:registrar.example.com",
        body=b"",
    )
    assert [r[0] for r in rows] == ["Authorization", "Proxy-Authorization"]
    p1 = _params(rows[0][1])
    assert p1 == {
        "username": "alice",
        "realm": "Test.Realm",
        "nonce": "n1",
        "uri": "sip:registrar.example.com",
        "response": compute_response(
            algorithm="SHA-256",
            method="REGISTER",
            uri="sip:registrar.example.com",
            qop="auth",
            nc="00000001",
            cnonce="c1",
            username="alice",
            realm="Test.Realm",
            password="S3cret!",
            nonce="n1",
        ),
        "algorithm": "SHA-256",
        "cnonce": "c1",
        "qop": "auth",
        "nc": "00000001",
        "opaque": "op",
    }
    p2 = _params(rows[1][1])
    assert p2["qop"] == "auth-int"
    assert "opaque" not in p2
    assert "algorithm" not in p2
    assert [(u.realm, u.algorithm) for u in tr.used] == [("Test.Realm", "SHA-256"), ("Other", "MD5")]


async def test_no_qop_sends_no_cnonce_no_nc() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    rows = await tr.answer(
        [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="d6f1c7c4b9e54c3a"')], method=M, uri=U
    )
    p = _params(rows[0][1])
    assert "cnonce" not in p
    assert "nc" not in p
    assert "qop" not in p
    assert p["response"] == "cdd5753f8a7792920d47283c6b653fe2"


async def test_same_nonce_refused_stops() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    ch = [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", qop="auth"')]
    await tr.answer(ch, method=M, uri=U)
    with pytest.raises(CredentialsRejectedError, match='realm "Test.Realm"'):
        await tr.answer(ch, method=M, uri=U)


async def test_stale_retries_then_capped() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", qop="auth"')], method=M, uri=U)
    await tr.answer(
        [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", qop="auth", stale=true')], method=M, uri=U
    )
    await tr.answer(
        [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n2", qop="auth", stale=TRUE')], method=M, uri=U
    )
    with pytest.raises(TooManyChallengesError):
        await tr.answer(
            [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n3", qop="auth", stale=true')], method=M, uri=U
        )
    assert tr.challenged_responses == MAX_CHALLENGES + 1


async def test_stale_cap_per_realm() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    tr.challenged_responses = -10  # isolate the stale cap from the hard cap
    await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", stale=true')], method=M, uri=U)
    await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n2", stale=true')], method=M, uri=U)
    with pytest.raises(CredentialsRejectedError, match="stale"):
        await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n3", stale=true')], method=M, uri=U)


async def test_new_nonce_without_stale_one_more_try_then_stop() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1"')], method=M, uri=U)
    await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n2"')], method=M, uri=U)
    with pytest.raises(CredentialsRejectedError):
        await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n3"')], method=M, uri=U)


async def test_new_nonce_per_challenge_resets_nc_and_cnonce() -> None:
    counter = iter(["c1", "c2"])
    tr = DigestSession(_lookup(CREDS), cnonce_factory=lambda: next(counter)).tracker()
    r1 = await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", qop="auth"')], method=M, uri=U)
    r2 = await tr.answer(
        [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n2", qop="auth", stale=true')], method=M, uri=U
    )
    assert (_params(r1[0][1])["cnonce"], _params(r1[0][1])["nc"]) == ("c1", "00000001")
    assert (_params(r2[0][1])["cnonce"], _params(r2[0][1])["nc"]) == ("c2", "00000001")


async def test_preemptive_increments_nc_and_counts_as_answered() -> None:
    session = DigestSession(_lookup(CREDS), cnonce_factory=lambda: "c1")
    tr = session.tracker()
    ch = [("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", qop="auth", algorithm=MD5-sess')]
    await tr.answer(ch, method=M, uri=U)
    rows, used = session.preemptive(method=M, uri=U)
    p = _params(rows[0][1])
    assert (p["nc"], p["cnonce"], p["nonce"]) == ("00000002", "c1", "n1")
    expected_ha1 = compute_ha1("MD5-sess", "alice", "Test.Realm", "S3cret!", "n1", "c1")
    assert p["response"] == _r(
        "MD5-sess",
        SIP | {"nonce": "n1", "qop": "auth", "nc": "00000002", "cnonce": "c1", "method": M, "uri": U},
        ha1=expected_ha1,
    )
    tr2 = session.tracker()
    tr2.note_preemptive(used, rows)
    assert tr2.credential_rows() == rows
    # A challenge after pre-emptive credentials is answered afresh (nc=1, new cnonce)...
    again = await tr2.answer(ch, method=M, uri=U)
    assert _params(again[0][1])["nc"] == "00000001"
    # ...and only the refusal of that answer ends the request and stops pre-emptive use.
    with pytest.raises(CredentialsRejectedError):
        await tr2.answer(ch, method=M, uri=U)
    assert session.preemptive(method=M, uri=U) == ([], [])


async def test_wrong_case_realm_does_not_match() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    with pytest.raises(NoCredentialError) as exc:
        await tr.answer([("WWW-Authenticate", 'Digest realm="test.realm", nonce="n1"')], method=M, uri=U)
    assert str(exc.value) == 'no SIP credential for realm "test.realm"'


async def test_no_credential_error_message() -> None:
    tr = DigestSession(_lookup({})).tracker()
    with pytest.raises(NoCredentialError) as exc:
        await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1"')], method=M, uri=U)
    assert str(exc.value) == 'no SIP credential for realm "Test.Realm"'
    assert exc.value.realms == ("Test.Realm",)


async def test_partly_answerable_then_unknown_realm_again_stops() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    both = [
        ("Proxy-Authenticate", 'Digest realm="Test.Realm", nonce="n1"'),
        ("Proxy-Authenticate", 'Digest realm="Unknown", nonce="n2"'),
    ]
    rows = await tr.answer(both, method=M, uri=U)
    assert len(rows) == 1
    assert 'realm="Test.Realm"' in rows[0][1]
    with pytest.raises(NoCredentialError, match='"Unknown"'):
        await tr.answer([("Proxy-Authenticate", 'Digest realm="Unknown", nonce="n3"')], method=M, uri=U)


async def test_min_algorithm_refuses_md5_only_challenge() -> None:
    tr = DigestSession(_lookup(CREDS), min_algorithm="SHA-256").tracker()
    with pytest.raises(NoUsableChallengeError, match="minimum digest algorithm is SHA-256"):
        await tr.answer([("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", algorithm=MD5')], method=M, uri=U)


async def test_min_algorithm_picks_allowed_row() -> None:
    tr = DigestSession(_lookup(CREDS), min_algorithm="SHA-256").tracker()
    rows = await tr.answer(
        [
            ("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n1", algorithm=MD5'),
            ("WWW-Authenticate", 'Digest realm="Test.Realm", nonce="n2", algorithm=SHA-256'),
        ],
        method=M,
        uri=U,
    )
    assert "algorithm=SHA-256" in rows[0][1]


async def test_no_digest_at_all() -> None:
    tr = DigestSession(_lookup(CREDS)).tracker()
    with pytest.raises(NoUsableChallengeError):
        await tr.answer([("WWW-Authenticate", 'Basic realm="x"')], method=M, uri=U)


def test_invalid_min_algorithm() -> None:
    with pytest.raises(ValueError, match="minimum"):
        DigestSession(_lookup(CREDS), min_algorithm="SHA-1")


def test_challenge_kind_headers() -> None:
    assert ChallengeKind.WWW.credentials_header == "Authorization"
    assert ChallengeKind.PROXY.credentials_header == "Proxy-Authorization"
    assert isinstance(parse_challenges([("WWW-Authenticate", 'Digest realm="a", nonce="b"')])[0], Challenge)
