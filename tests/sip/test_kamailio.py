"""Registration and OPTIONS against Kamailio 5.6.3 (auth + htable, config in conftest) as registrar/proxy."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator

import pytest

from app.sip.client import SipUserAgent
from app.sip.digest import CredentialLookup, DigestSession
from app.sip.options import probe, run_options_cli
from app.sip.registration import RegistrationManager, RegistrationState
from app.sip.settings import SipSettings
from tests.sip.conftest import HOST, KamailioFactory, KamailioPeer, static_lookup

GOOD = {"Test.Realm": ("alice", "S3cret!")}


def _settings(peer: KamailioPeer, **kw: object) -> SipSettings:
    return SipSettings.model_validate(
        {"registrar": peer.uri, "domain": "example.com", "local_host": HOST, "local_port": 0, "register_expires": 60}
        | kw
    )


class Managers:
    def __init__(self) -> None:
        self.items: list[tuple[RegistrationManager, SipUserAgent]] = []

    async def make(
        self, settings: SipSettings, lookup: CredentialLookup, *, retry_min: float = 60.0
    ) -> RegistrationManager:
        ua = SipUserAgent(settings, lookup, t1=0.05, timer_f=2.0)
        await ua.start()
        mgr = RegistrationManager(settings, lookup, user_agent=ua, retry_min=retry_min, unregister_timeout=3.0)
        await mgr.start()
        self.items.append((mgr, ua))
        return mgr


@pytest.fixture
async def managers() -> AsyncIterator[Managers]:
    m = Managers()
    try:
        yield m
    finally:
        for mgr, ua in m.items:
            await mgr.stop(unregister=False)
            await ua.stop()


def _registers(peer: KamailioPeer) -> list[str]:
    return re.findall(r"REQ REGISTER [^\n]*", peer.log())


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_register_and_unregister(kamailio: KamailioFactory, managers: Managers, algorithm: str) -> None:
    peer = kamailio.start(algorithm=algorithm)
    mgr = await managers.make(_settings(peer), static_lookup(GOOD))
    alias = mgr.register("4711")
    assert alias == "sip:4711@example.com"
    assert mgr.status("4711") is not None  # registered in the background: the call did not wait
    st = await mgr.wait_for("4711", RegistrationState.REGISTERED, RegistrationState.FAILED)
    assert st.state is RegistrationState.REGISTERED, st
    assert (st.realm, st.algorithm, st.last_error) == ("Test.Realm", algorithm, None)
    assert st.expires_at is not None
    assert "AUTH-OK REGISTER expires=60" in peer.log()

    mgr.unregister("4711")
    st = await mgr.wait_for("4711", RegistrationState.UNREGISTERED, timeout=10)
    assert st.last_error is None, st
    assert "AUTH-OK REGISTER expires=0" in peer.log()
    regs = _registers(peer)
    assert all("REGISTER sip:example.com " in r for r in regs)
    # CSeq grows across the binding (same Call-ID): challenged REGISTER, authorised one, un-REGISTER(s)
    cseqs = [int(m) for m in re.findall(r"cseq=(\d+)", "\n".join(regs))]
    assert cseqs == sorted(cseqs)
    assert len(set(cseqs)) == len(cseqs)
    assert [s.alias for s in mgr.snapshot()] == ["sip:4711@example.com"]


async def test_stale_nonce_on_unregister_is_retried(kamailio: KamailioFactory, managers: Managers) -> None:
    """nonce_expire=3: the un-REGISTER 4.5 s later pre-emptively reuses the expired nonce -> stale=true -> retry."""
    peer = kamailio.start(algorithm="SHA-256", nonce_expire=3)
    mgr = await managers.make(_settings(peer), static_lookup(GOOD))
    mgr.register("1000")
    st = await mgr.wait_for("1000", RegistrationState.REGISTERED, RegistrationState.FAILED)
    assert st.state is RegistrationState.REGISTERED, st
    await asyncio.sleep(4.5)
    mgr.unregister("1000")
    st = await mgr.wait_for("1000", RegistrationState.UNREGISTERED, timeout=10)
    assert st.last_error is None, (st, peer.log()[-3000:])
    log = peer.log()
    assert re.search(r"AUTH-FAIL rc=-(4|6) REGISTER", log), log[-3000:]
    assert "AUTH-OK REGISTER expires=0" in log
    assert st.algorithm == "SHA-256"


async def test_stale_nonce_direct_options(kamailio: KamailioFactory) -> None:
    """Same with OPTIONS (407 / Proxy-Authorization): stale=true after nonce expiry, fresh nonce accepted."""
    peer = kamailio.start(algorithm="MD5", nonce_expire=3)
    settings = _settings(peer)
    async with SipUserAgent(settings, static_lookup(GOOD), t1=0.05, timer_f=2.0) as ua:
        session = DigestSession(static_lookup(GOOD))
        r1 = await ua.request("OPTIONS", f"sip:bob@{HOST}:{peer.port}", digest=session)
        assert r1.status == 200, r1
        assert r1.used[0].kind.credentials_header == "Proxy-Authorization"
        r2 = await ua.request("OPTIONS", f"sip:bob@{HOST}:{peer.port}", digest=session)
        assert r2.status == 200
        assert r2.attempts == 1  # pre-emptive credentials, nc=2, accepted
        await asyncio.sleep(4.5)
        r3 = await ua.request("OPTIONS", f"sip:bob@{HOST}:{peer.port}", digest=session)
        assert r3.status == 200, r3
        assert r3.attempts == 2
    assert re.search(r"AUTH-FAIL rc=-(4|6) OPTIONS", peer.log())


async def test_wrong_password_fails_without_looping(kamailio: KamailioFactory, managers: Managers) -> None:
    peer = kamailio.start()
    mgr = await managers.make(_settings(peer), static_lookup({"Test.Realm": ("alice", "wrong")}))
    mgr.register("2000")
    st = await mgr.wait_for("2000", RegistrationState.FAILED)
    assert st.last_error == 'credentials rejected for realm "Test.Realm"'
    assert st.last_status == 401
    await asyncio.sleep(0.5)
    # initial + at most 3 answered challenges; with retry_min=60 there is no second round yet
    assert 2 <= len(_registers(peer)) <= 4


@pytest.mark.parametrize(
    "table",
    [{}, {"test.realm": ("alice", "S3cret!")}],
    ids=["no-credential", "wrong-case-realm"],
)
async def test_missing_credential_is_visible(
    kamailio: KamailioFactory, managers: Managers, table: dict[str, tuple[str, str]]
) -> None:
    peer = kamailio.start()
    mgr = await managers.make(_settings(peer), static_lookup(table))
    mgr.register("3000")
    st = await mgr.wait_for("3000", RegistrationState.FAILED)
    assert st.last_error == 'no SIP credential for realm "Test.Realm"'
    assert len(_registers(peer)) == 1


async def test_failure_backs_off_and_recovers(kamailio: KamailioFactory, managers: Managers) -> None:
    peer = kamailio.start()
    table: dict[str, tuple[str, str]] = {}
    mgr = await managers.make(_settings(peer), static_lookup(table), retry_min=0.5)
    mgr.register("3100")
    await mgr.wait_for("3100", RegistrationState.FAILED)
    table.update(GOOD)  # operator adds the credential; the next retry succeeds
    st = await mgr.wait_for("3100", RegistrationState.REGISTERED, timeout=10)
    assert st.last_error is None


async def test_registration_over_tcp(kamailio: KamailioFactory, managers: Managers) -> None:
    peer = kamailio.start(algorithm="SHA-256")
    settings = _settings(peer, registrar=f"sip:{HOST}:{peer.port};transport=tcp")
    mgr = await managers.make(settings, static_lookup(GOOD))
    mgr.register("5000")
    st = await mgr.wait_for("5000", RegistrationState.REGISTERED, RegistrationState.FAILED)
    assert st.state is RegistrationState.REGISTERED, st
    mgr.unregister("5000")
    st = await mgr.wait_for("5000", RegistrationState.UNREGISTERED)
    assert st.last_error is None


async def test_unreachable_registrar_fails_with_timeout(managers: Managers) -> None:
    from tests.sip.conftest import free_port

    settings = SipSettings(registrar=f"sip:{HOST}:{free_port()}", local_host=HOST, local_port=0)
    mgr = await managers.make(settings, static_lookup(GOOD))
    mgr.register("6000")
    st = await mgr.wait_for("6000", RegistrationState.FAILED, timeout=10)
    assert st.last_error is not None
    assert "Timer F" in st.last_error


async def test_registration_disabled_without_registrar() -> None:
    mgr = RegistrationManager(SipSettings(), static_lookup(GOOD))
    await mgr.start()
    mgr.register("7000")
    [st] = mgr.snapshot()
    assert st.state is RegistrationState.FAILED
    assert st.last_error is not None
    assert "sip.registrar" in st.last_error
    mgr.unregister("7000")
    assert mgr.snapshot()[0].state is RegistrationState.UNREGISTERED
    await mgr.stop()


async def test_forget_drops_an_alias_that_was_never_registered() -> None:
    mgr = RegistrationManager(SipSettings(), static_lookup(GOOD))
    await mgr.start()
    mgr.register("7001")
    assert mgr.forget("7001") is False  # still wanted
    assert mgr.aliases() == ["sip:7001@invalid"]
    mgr.unregister("7001")
    assert mgr.forget("7001") is True
    assert (mgr.aliases(), mgr.snapshot(), mgr.status("7001")) == ([], [], None)
    assert mgr.forget("7001") is True  # nothing held
    await mgr.stop()


async def test_forget_cancels_a_worker_that_has_not_sent_anything(
    kamailio: KamailioFactory, managers: Managers
) -> None:
    peer = kamailio.start()
    mgr = await managers.make(_settings(peer), static_lookup(GOOD))
    mgr.register("7100")  # the worker task is created but has not run yet
    mgr.unregister("7100")
    assert mgr.forget("7100") is True
    assert mgr.aliases() == []
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "sip-register sip:7100@example.com"]
    assert len(tasks) == 1
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[0].cancelled()
    assert _registers(peer) == []  # nothing reached the registrar, so nothing is left there


async def test_options_probe(kamailio: KamailioFactory) -> None:
    peer = kamailio.start(algorithm="SHA-256")
    settings = _settings(peer)
    async with SipUserAgent(settings, static_lookup(GOOD), t1=0.05, timer_f=2.0) as ua:
        res = await probe(f"sip:{HOST}:{peer.port}", settings, static_lookup(GOOD), user_agent=ua)
        assert res.ok
        assert (res.status_line, res.realm, res.algorithm) == ("SIP/2.0 200 OK", "Test.Realm", "SHA-256")
        bad = await probe(f"sip:{HOST}:{peer.port}", settings, static_lookup({}), user_agent=ua)
        assert not bad.ok
        assert bad.status == 407
        assert bad.error == 'no SIP credential for realm "Test.Realm"'


def test_options_cli_exit_codes(kamailio: KamailioFactory) -> None:
    peer = kamailio.start()
    settings = _settings(peer)
    out = io.StringIO()
    rc = run_options_cli([f"sip:{HOST}:{peer.port}"], settings, static_lookup(GOOD), stdout=out)
    assert rc == 0
    assert out.getvalue() == "SIP/2.0 200 OK\nrealm: Test.Realm\nalgorithm: MD5\n"
    out = io.StringIO()
    rc = run_options_cli([f"sip:{HOST}:{peer.port}"], settings, static_lookup({}), stdout=out)
    assert rc == 1
    assert out.getvalue().startswith("SIP/2.0 407 ")
    assert 'error: no SIP credential for realm "Test.Realm"' in out.getvalue()
    err = io.StringIO()
    assert run_options_cli(["http://nope"], settings, static_lookup(GOOD), stderr=err) == 1
    assert "invalid SIP URI" in err.getvalue()
