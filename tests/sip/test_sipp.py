"""Our UAC against SIPp 3.6.1 UAS scenarios (tests/sip/scenarios): verifyauth + ereg echo checks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.sip.client import RequestResult, SipUserAgent
from app.sip.settings import SipSettings
from tests.sip.conftest import HOST, SippFactory, static_lookup

CREDS = {"Test.Realm": ("alice", "S3cret!"), "Other.Realm": ("bob", "B0b!pw")}
REGISTRAR = "sip:registrar.example.com"


@pytest.fixture
async def ua() -> AsyncIterator[SipUserAgent]:
    settings = SipSettings(local_host=HOST, local_port=0)
    agent = SipUserAgent(settings, static_lookup(CREDS), t1=0.1, timer_f=5.0)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


async def _register(ua: SipUserAgent, dest: str) -> RequestResult:
    return await ua.request(
        "REGISTER",
        REGISTRAR,
        from_uri="sip:1234@registrar.example.com",
        to_uri="sip:1234@registrar.example.com",
        headers=[("Contact", f"<{ua.contact_uri('1234')}>"), ("Expires", "60")],
        destination=dest,
    )


@pytest.mark.parametrize("qop", ["auth", "auth-int"])
async def test_md5_challenge_verified_by_sipp(ua: SipUserAgent, sipp: SippFactory, qop: str) -> None:
    peer = sipp.start("uas_verify_auth.xml", keys={"qop": qop})
    result = await _register(ua, peer.uri)
    rc = peer.wait()
    assert rc == 0, peer.logs()
    assert result.status == 200, result
    assert result.realm == "Test.Realm"
    assert result.algorithm == "MD5"
    assert result.cseq == 2


async def test_wrong_password_gets_403_and_sipp_flags_it(sipp: SippFactory) -> None:
    settings = SipSettings(local_host=HOST, local_port=0)
    async with SipUserAgent(settings, static_lookup({"Test.Realm": ("alice", "wrong")}), t1=0.1) as ua:
        peer = sipp.start("uas_verify_auth.xml", keys={"qop": "auth"})
        result = await _register(ua, peer.uri)
    assert peer.wait() == 1
    assert result.status == 403


async def test_strongest_of_three_algorithms_answered(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_multi_algorithm.xml")
    result = await _register(ua, peer.uri)
    assert peer.wait() == 0, peer.logs()
    assert result.status == 200
    assert (result.realm, result.algorithm) == ("Test.Realm", "SHA-512-256")


async def test_min_algorithm_still_picks_allowed_row(sipp: SippFactory) -> None:
    settings = SipSettings(local_host=HOST, local_port=0, min_digest_algorithm="SHA-512-256")
    async with SipUserAgent(settings, static_lookup(CREDS), t1=0.1) as ua:
        peer = sipp.start("uas_multi_algorithm.xml")
        result = await _register(ua, peer.uri)
    assert peer.wait() == 0, peer.logs()
    assert result.algorithm == "SHA-512-256"


async def test_two_realms_in_one_407(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_two_realms.xml")
    result = await ua.request("OPTIONS", "sip:bob@example.com", destination=peer.uri)
    assert peer.wait() == 0, peer.logs()
    assert result.status == 200
    assert [(u.kind.credentials_header, u.realm, u.algorithm) for u in result.used] == [
        ("Proxy-Authorization", "Test.Realm", "MD5"),
        ("Proxy-Authorization", "Other.Realm", "SHA-256"),
    ]


async def test_www_and_proxy_challenge_together(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_www_and_proxy.xml")
    result = await _register(ua, peer.uri)
    assert peer.wait() == 0, peer.logs()
    assert result.status == 200
    assert {(u.kind.credentials_header, u.realm) for u in result.used} == {
        ("Authorization", "Test.Realm"),
        ("Proxy-Authorization", "Other.Realm"),
    }


async def test_wrong_case_realm_not_answered(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_no_retry_expected.xml", keys={"realm": "test.realm"})
    result = await _register(ua, peer.uri)
    assert result.status == 401
    assert result.error == 'no SIP credential for realm "test.realm"'
    assert peer.wait() == 0, peer.logs()


async def test_refused_password_does_not_loop(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_refused_no_loop.xml")
    result = await _register(ua, peer.uri)
    assert result.status == 401
    assert result.error == 'credentials rejected for realm "Test.Realm"'
    assert result.attempts == 2
    assert peer.wait() == 0, peer.logs()


async def test_stale_nonce_retried_with_fresh_cnonce(ua: SipUserAgent, sipp: SippFactory) -> None:
    peer = sipp.start("uas_stale.xml")
    result = await _register(ua, peer.uri)
    assert peer.wait() == 0, peer.logs()
    assert result.status == 200
    assert result.cseq == 3
