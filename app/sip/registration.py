"""Background registration of conference aliases ``sip:<numericId>@<domain>`` with the SIP registrar.

One asyncio task per alias owns that binding (register, refresh before expiry, back off on failure,
un-register with ``Expires: 0``). Callers never wait for the registrar: :meth:`RegistrationManager.register`
and :meth:`RegistrationManager.unregister` only record the wish and wake the worker. An alias's state stays
until :meth:`RegistrationManager.forget` drops it (once un-registered), so a bridge that creates thousands
of conferences a day holds only the live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.sip.client import RequestResult, SipUserAgent
from app.sip.digest import CredentialLookup, DigestSession
from app.sip.message import Response, split_comma_list
from app.sip.settings import SipSettings
from app.sip.uri import SipUriError, parse_uri

__all__ = ["RegistrationManager", "RegistrationState", "RegistrationStatus"]

log = logging.getLogger(__name__)

_USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")


class RegistrationState(StrEnum):
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True)
class RegistrationStatus:
    """Operator-visible state of one alias (``GET /api/admin/status/v1/registration/``)."""

    alias: str
    state: RegistrationState
    realm: str | None = None
    algorithm: str | None = None
    expires_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class _Binding:
    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.wanted = True
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.call_id = f"{secrets.token_hex(12)}@adhoc-bridge"
        self.cseq = 0
        self.digest: DigestSession | None = None
        self.bound = False  # a REGISTER may have reached the registrar (un-register on removal)
        self.expires: int | None = None  # raised by 423 Min-Expires
        self.status = RegistrationStatus(alias=alias, state=RegistrationState.REGISTERING, updated_at=_now())


class RegistrationManager:
    """Registers aliases in the background; independent of storage (credentials come from ``lookup``)."""

    def __init__(
        self,
        settings: SipSettings,
        lookup: CredentialLookup,
        *,
        user_agent: SipUserAgent | None = None,
        retry_min: float = 5.0,
        retry_max: float = 300.0,
        unregister_timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self.lookup = lookup
        self._ua = user_agent
        self._own_ua = user_agent is None
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.unregister_timeout = unregister_timeout
        self._bindings: dict[str, _Binding] = {}
        self._started = False
        self._changed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.settings.registrar is not None

    async def start(self) -> None:
        if self._started:
            return
        if self.enabled and self._ua is None:
            self._ua = SipUserAgent(self.settings, self.lookup)
        if self._ua is not None and self._own_ua:
            await self._ua.start()
        self._started = True
        for b in self._bindings.values():
            self._ensure_worker(b)

    async def stop(self, *, unregister: bool = True) -> None:
        """Stop all workers; with ``unregister`` send ``Expires: 0`` for live bindings (bounded time)."""
        bindings = list(self._bindings.values())
        if unregister:
            for b in bindings:
                b.wanted = False
                b.wake.set()
            tasks = [b.task for b in bindings if b.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=self.unregister_timeout)
        for b in bindings:
            if b.task is not None and not b.task.done():
                b.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await b.task
        if self._ua is not None and self._own_ua:
            await self._ua.stop()
        self._started = False

    # -- public API --------------------------------------------------------------------------------

    def alias_uri(self, alias: str) -> str:
        """``sip:<alias>@<domain>`` for a numeric ID / user part; a full ``sip:`` URI is validated and kept."""
        alias = alias.strip()
        if alias.lower().startswith("sip:"):
            try:
                uri = parse_uri(alias)
            except SipUriError as exc:
                raise ValueError(str(exc)) from None
            if uri.user is None:
                raise ValueError(f"alias {alias!r} has no user part")
            return str(uri)
        if not alias or not _USER_RE.match(alias):
            raise ValueError(f"invalid alias {alias!r}")
        domain = self.settings.effective_domain or "invalid"
        return f"sip:{alias}@{domain}"

    def register(self, alias: str) -> str:
        """Start (or keep) registering ``alias``; returns the alias URI. Never blocks on the network."""
        uri = self.alias_uri(alias)
        b = self._bindings.get(uri)
        if b is None:
            b = _Binding(uri)
            self._bindings[uri] = b
        b.wanted = True
        if not self.enabled:
            self._set(b, state=RegistrationState.FAILED, last_error="SIP registration disabled: sip.registrar unset")
            return uri
        if b.status.state in (RegistrationState.UNREGISTERED, RegistrationState.FAILED):
            self._set(b, state=RegistrationState.REGISTERING)
        b.wake.set()
        self._ensure_worker(b)
        return uri

    def unregister(self, alias: str) -> str:
        """Stop registering ``alias`` and un-register it (``Expires: 0``) in the background."""
        uri = self.alias_uri(alias)
        b = self._bindings.get(uri)
        if b is None:
            return uri
        b.wanted = False
        b.wake.set()
        if not self.enabled or (b.task is None and not b.bound):
            self._set(b, state=RegistrationState.UNREGISTERED, expires_at=None)
        return uri

    def forget(self, alias: str) -> bool:
        """Drop ``alias``'s state once it is un-registered or was never registered; True when nothing is held.

        Refused (False, state kept) while the alias is still wanted or a binding may still exist at the
        registrar (the un-REGISTER has not finished): forgetting then would leak a binding until it expires.
        A worker task still pending for an alias that never sent a REGISTER is cancelled.
        """
        uri = self.alias_uri(alias)
        b = self._bindings.get(uri)
        if b is None:
            return True
        if b.wanted or b.bound:
            return False
        del self._bindings[uri]
        task, b.task = b.task, None
        if task is not None and not task.done():
            task.cancel()
        return True

    def aliases(self) -> list[str]:
        """Alias URIs this manager holds state for (registered, in progress, failed or not yet forgotten)."""
        return sorted(self._bindings)

    def snapshot(self) -> list[RegistrationStatus]:
        return [b.status for b in sorted(self._bindings.values(), key=lambda x: x.alias)]

    def status(self, alias: str) -> RegistrationStatus | None:
        b = self._bindings.get(self.alias_uri(alias))
        return b.status if b is not None else None

    async def wait_for(self, alias: str, *states: RegistrationState, timeout: float = 10.0) -> RegistrationStatus:
        """Wait until ``alias`` reaches one of ``states`` (for tests and diagnostics)."""
        uri = self.alias_uri(alias)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            b = self._bindings.get(uri)
            if b is not None and b.status.state in states:
                return b.status
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{uri} did not reach {[str(x) for x in states]}: {b.status if b else None}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    # -- worker ------------------------------------------------------------------------------------

    def _set(self, b: _Binding, **changes: object) -> None:
        b.status = replace(b.status, updated_at=_now(), **changes)  # type: ignore[arg-type]
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _ensure_worker(self, b: _Binding) -> None:
        if not self._started or not self.enabled:
            return
        if b.task is None or b.task.done():
            b.task = asyncio.create_task(self._run(b), name=f"sip-register {b.alias}")

    async def _sleep(self, b: _Binding, seconds: float) -> None:
        b.wake.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel (stop()) that lands as
        # wake is set (unregister()), and the worker would carry on instead of stopping.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, seconds)):
                await b.wake.wait()

    async def _run(self, b: _Binding) -> None:
        failures = 0
        try:
            while b.wanted:
                expires = max(self.settings.register_expires, b.expires or 0)
                result = await self._send(b, expires)
                if not b.wanted:
                    break
                resp = result.response
                if resp is not None and resp.status == 423 and b.expires is None:
                    min_exp = (resp.headers.get("Min-Expires") or "").strip()
                    if min_exp.isdigit() and expires < int(min_exp) <= 7 * 86400:
                        b.expires = int(min_exp)
                        continue
                if result.ok and resp is not None:
                    failures = 0
                    granted = self._granted_expires(resp, self._contact(b), expires)
                    self._set(
                        b,
                        state=RegistrationState.REGISTERED,
                        realm=result.realm,
                        algorithm=result.algorithm,
                        expires_at=_now() + timedelta(seconds=granted),
                        last_status=resp.status,
                        last_error=None,
                    )
                    await self._sleep(b, max(granted * 0.5, granted - 60.0))
                    continue
                failures += 1
                err = result.error or (resp.status_line if resp is not None else "no response")
                log.warning("registration of %s failed: %s", b.alias, err)
                self._set(
                    b,
                    state=RegistrationState.FAILED,
                    realm=result.realm,
                    algorithm=result.algorithm,
                    expires_at=None,
                    last_status=resp.status if resp is not None else None,
                    last_error=err,
                )
                delay = min(self.retry_max, self.retry_min * 2 ** min(failures - 1, 16))
                await self._sleep(b, delay * random.uniform(0.8, 1.0))
                if b.wanted:
                    self._set(b, state=RegistrationState.REGISTERING)
            if b.bound:
                result = await self._send(b, 0)
                unreg_err: str | None = None
                if not result.ok:
                    unreg_err = result.error or result.status_line or "no response"
                if unreg_err:
                    log.warning("un-registration of %s failed: %s", b.alias, unreg_err)
                b.bound = False
                self._set(
                    b,
                    state=RegistrationState.UNREGISTERED,
                    realm=result.realm or b.status.realm,
                    algorithm=result.algorithm or b.status.algorithm,
                    expires_at=None,
                    last_status=result.status,
                    last_error=unreg_err,
                )
            else:
                self._set(b, state=RegistrationState.UNREGISTERED, expires_at=None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let a worker die silently
            log.exception("registration worker for %s crashed", b.alias)
            self._set(b, state=RegistrationState.FAILED, last_error=f"internal error: {exc}")
        finally:
            b.task = None
            if b.wanted and self._started:
                # register() raced with the final un-REGISTER: start again
                self._ensure_worker(b)

    async def _send(self, b: _Binding, expires: int) -> RequestResult:
        ua = self._ua
        assert ua is not None
        registrar = self.settings.registrar_uri
        assert registrar is not None
        domain = self.settings.effective_domain
        if b.digest is None:
            b.digest = DigestSession(self.lookup, min_algorithm=self.settings.min_digest_algorithm)
        contact = self._contact(b)
        b.cseq += 1
        if expires > 0:
            b.bound = True
        result = await ua.request(
            "REGISTER",
            f"sip:{domain}",
            from_uri=b.alias,
            to_uri=b.alias,
            call_id=b.call_id,
            cseq=b.cseq,
            headers=[("Contact", f"<{contact}>;expires={expires}"), ("Expires", str(expires))],
            destination=None if self.settings.outbound_proxy else str(registrar),
            digest=b.digest,
        )
        b.cseq = max(b.cseq, result.cseq)
        return result

    def _contact(self, b: _Binding) -> str:
        assert self._ua is not None
        return self._ua.contact_uri(parse_uri(b.alias).user)

    @staticmethod
    def _granted_expires(resp: Response, contact: str, requested: int) -> int:
        """Expiry granted by the registrar: our Contact's ``expires``, else ``Expires``, else requested."""
        contacts = [c for value in resp.headers.get_all("Contact") for c in split_comma_list(value)]
        ours = [c for c in contacts if f"<{contact}>" in c or c.split(";")[0].strip() == contact]
        for c in ours or (contacts if len(contacts) == 1 else []):
            m = re.search(r";\s*expires\s*=\s*([0-9]+)", c, re.IGNORECASE)
            if m:
                return max(1, int(m.group(1)))
        header = resp.headers.get("Expires")
        if header is not None and header.strip().isdigit():
            return max(1, int(header.strip()))
        return requested
