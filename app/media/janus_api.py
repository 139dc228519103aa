"""Janus over its HTTP transport: one session, its plugin handles, and the long poll that carries events.

Requests are ``POST /janus[/<session>[/<handle>]]`` with a ``transaction``; asynchronous plugin results come
back on the long poll ``GET /janus/<session>?maxev=N`` and are matched to their request by transaction.
A keepalive goes out well inside Janus' 60 s session timeout. The session counts as *lost* when Janus says it
does not know it (error 458, or 404 on the long poll) or stops answering: ``lost`` is set and every request
waiting on it fails with ``MediaUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from app.media.errors import MediaError, MediaUnavailable

__all__ = ["JanusEvent", "JanusSession", "quiet_requests_to"]

log = logging.getLogger(__name__)

JanusEvent = dict[str, Any]

KEEPALIVE_INTERVAL = 25.0
"""Seconds between keepalives; Janus drops a session after 60 s without one."""
LONG_POLL_MAX_EVENTS = 64
LONG_POLL_TIMEOUT = 45.0
"""Janus answers an idle long poll with a keepalive after 30 s; longer than that without a reply is a stall."""
REQUEST_TIMEOUT = 10.0
EVENT_TIMEOUT = 10.0
IDLE_POLL_DELAY = 1.0
"""With no request waiting for an asynchronous answer, the next long poll waits up to this long (or until a
request is sent): the participants' notifications Janus queues meanwhile (joins and leaves in the room,
handles detached: nothing we wait for) then come in one poll instead of one poll each."""
STALLS_BEFORE_LOST = 2
"""Consecutive long-poll or keepalive timeouts (Janus accepting connections but not answering) before giving up."""

ERR_SESSION_NOT_FOUND = 458
ERR_HANDLE_NOT_FOUND = 459


class _RedactJanusRequests(logging.Filter):
    """httpx logs each request's URL at INFO; ours carry ``apisecret`` and come every 30 s: keep them out."""

    def __init__(self) -> None:
        super().__init__()
        self.prefixes: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            text = str(arg)
            if "apisecret=" in text or any(text.startswith(prefix) for prefix in self.prefixes):
                return False
        return True


_HTTPX_FILTER = _RedactJanusRequests()
logging.getLogger("httpx").addFilter(_HTTPX_FILTER)


def quiet_requests_to(base_url: str) -> None:
    """Keep httpx's per-request INFO lines for ``base_url`` out of the log (we log what matters ourselves).

    httpx is used for Janus only, so its request lines are all dropped: below WARNING its logger is not even
    asked (a dropped record still cost a caller lookup and a filter run per request).
    """
    _HTTPX_FILTER.prefixes.add(base_url.rstrip("/"))
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level < logging.WARNING:
        httpx_log.setLevel(logging.WARNING)


_JSON_HEADERS = [("Content-Type", "application/json")]
_REQUEST_TIMEOUTS = {"timeout": httpx.Timeout(REQUEST_TIMEOUT).as_dict()}
_LONG_POLL_TIMEOUTS = {"timeout": httpx.Timeout(LONG_POLL_TIMEOUT).as_dict()}
_URLS: dict[str, httpx.URL] = {}
MAX_CACHED_URLS = 1024


def _url(text: str) -> httpx.URL:
    """``text`` parsed once (the session's and handles' paths repeat for every request)."""
    url = _URLS.get(text)
    if url is None:
        if len(_URLS) >= MAX_CACHED_URLS:
            _URLS.clear()
        url = _URLS[text] = httpx.URL(text)
    return url


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusSession:
    """A Janus API session; ``open`` creates it and starts its long poll and keepalive."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        session_id: int,
        api_secret: str | None,
        on_event: Callable[[JanusEvent], None] | None = None,
    ) -> None:
        self._client = client
        self._base_url = base_url
        self.session_id = session_id
        self._api_secret = api_secret
        self._on_event = on_event
        self._pending: dict[str, asyncio.Future[JanusEvent]] = {}
        self._awaited = asyncio.Event()  # set when a request waits for an answer from the long poll
        self._tasks: list[asyncio.Task[None]] = []
        self.lost = asyncio.Event()
        self.lost_reason = ""
        self._closing = False

    @classmethod
    async def open(
        cls,
        client: httpx.AsyncClient,
        base_url: str,
        api_secret: str | None = None,
        on_event: Callable[[JanusEvent], None] | None = None,
    ) -> JanusSession:
        base_url = base_url.rstrip("/")
        quiet_requests_to(base_url)
        reply = await _post(client, base_url, {"janus": "create"}, api_secret)
        if reply.get("janus") != "success":
            raise _error_of(reply, "create session")
        session = cls(client, base_url, int(reply["data"]["id"]), api_secret, on_event)
        session._tasks = [
            asyncio.create_task(session._long_poll(), name=f"janus-poll-{session.session_id}"),
            asyncio.create_task(session._keepalive(), name=f"janus-keepalive-{session.session_id}"),
        ]
        log.debug("janus session created", extra={"janus_session": session.session_id})
        return session

    # -- requests --------------------------------------------------------------------------------------------

    async def attach(self, plugin: str) -> int:
        reply = await self._call(f"/{self.session_id}", {"janus": "attach", "plugin": plugin}, "attach")
        return int(reply["data"]["id"])

    async def detach(self, handle: int) -> None:
        """Detach a handle (its participant leaves); a handle Janus no longer knows is already detached."""
        try:
            await self._call(f"/{self.session_id}/{handle}", {"janus": "detach"}, "detach")
        except MediaUnavailable:
            return
        except MediaError as exc:
            if exc.code != ERR_HANDLE_NOT_FOUND:
                raise

    async def message(self, handle: int, body: dict[str, Any], *, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
        """Send a plugin request; returns the plugin's data, from the reply or (asynchronous) the long poll."""
        transaction = _transaction()
        future: asyncio.Future[JanusEvent] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        self._awaited.set()
        what = str(body.get("request", "message"))
        try:
            reply = await self._call(
                f"/{self.session_id}/{handle}", {"janus": "message", "body": body}, what, transaction=transaction
            )
            if reply.get("janus") == "ack":
                try:
                    async with asyncio.timeout(timeout):
                        reply = await future
                except TimeoutError:
                    raise MediaError(f"janus {what}: no answer within {timeout:g} s") from None
        finally:
            self._pending.pop(transaction, None)
        if reply.get("janus") == "error":
            raise _error_of(reply, what)
        data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise MediaError(f"janus {what}: {data.get('error', 'error')}", code=int(data["error_code"]))
        return data

    async def close(self) -> None:
        """Destroy the session (best effort, bounded) and stop its tasks."""
        self._closing = True
        if not self.lost.is_set():
            with contextlib.suppress(MediaError, TimeoutError):
                async with asyncio.timeout(3):
                    await self._call(f"/{self.session_id}", {"janus": "destroy"}, "destroy")
        self._lose("closed", quiet=True)
        self._awaited.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _call(self, path: str, body: dict[str, Any], what: str, *, transaction: str | None = None) -> JanusEvent:
        if self.lost.is_set():
            raise MediaUnavailable(f"janus {what}: session lost ({self.lost_reason})")
        try:
            reply = await _post(self._client, self._base_url + path, body, self._api_secret, transaction)
        except MediaUnavailable as exc:
            self._lose(str(exc))
            raise
        if reply.get("janus") == "error":
            error = _error_of(reply, what)
            if error.code == ERR_SESSION_NOT_FOUND:
                self._lose("Janus no longer knows the session")
                raise MediaUnavailable(str(error), code=error.code)
            raise error
        return reply

    # -- background ------------------------------------------------------------------------------------------

    def _lose(self, reason: str, *, quiet: bool = False) -> None:
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        if not quiet and not self._closing:
            log.warning("janus session lost: %s", reason, extra={"janus_session": self.session_id})
        for future in self._pending.values():
            if not future.done():
                future.set_exception(MediaUnavailable(f"janus session lost ({reason})"))

    async def _long_poll(self) -> None:
        params: dict[str, str | int] = {"maxev": LONG_POLL_MAX_EVENTS}
        if self._api_secret:
            params["apisecret"] = self._api_secret
        url = httpx.URL(f"{self._base_url}/{self.session_id}", params=params)
        stalls = 0
        while not self.lost.is_set():
            if not any(not future.done() for future in self._pending.values()):
                await self._idle_pause()
                if self.lost.is_set():
                    return
            try:
                response = await self._client.send(httpx.Request("GET", url, extensions=_LONG_POLL_TIMEOUTS))
            except httpx.TimeoutException:
                stalls += 1
                if stalls >= STALLS_BEFORE_LOST:
                    self._lose("Janus stopped answering the long poll")
                continue
            except httpx.TransportError as exc:
                self._lose(f"long poll failed ({type(exc).__name__})")
                return
            stalls = 0
            if response.status_code == 404:
                self._lose("Janus no longer knows the session")
                return
            if response.status_code != 200:
                self._lose(f"long poll answered HTTP {response.status_code}")
                return
            try:
                payload = response.json()
            except ValueError:
                self._lose("long poll answered something other than JSON")
                return
            for event in payload if isinstance(payload, list) else [payload]:
                if isinstance(event, dict):
                    self._dispatch(event)

    async def _idle_pause(self) -> None:
        """Nobody waits for an event: let Janus queue them for up to ``IDLE_POLL_DELAY`` (a request cuts it short)."""
        self._awaited.clear()
        if any(not future.done() for future in self._pending.values()):
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(IDLE_POLL_DELAY):
                await self._awaited.wait()

    def _dispatch(self, event: JanusEvent) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        transaction = event.get("transaction")
        if isinstance(transaction, str) and kind in ("event", "success", "error"):
            future = self._pending.get(transaction)
            if future is not None and not future.done():
                future.set_result(event)
                return
        if kind == "timeout" or (kind == "error" and event.get("error", {}).get("code") == ERR_SESSION_NOT_FOUND):
            self._lose("Janus timed the session out" if kind == "timeout" else "Janus no longer knows the session")
            return
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("janus event handler failed")

    async def _keepalive(self) -> None:
        stalls = 0
        while not self.lost.is_set():
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            try:
                await self._call(f"/{self.session_id}", {"janus": "keepalive"}, "keepalive")
                stalls = 0
            except MediaUnavailable:
                return
            except MediaError:
                stalls += 1
                if stalls >= STALLS_BEFORE_LOST:
                    self._lose("Janus stopped answering keepalives")
                    return


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    api_secret: str | None,
    transaction: str | None = None,
) -> JanusEvent:
    """POST one Janus request. Janus down: ``MediaUnavailable``; a stall: ``MediaError``."""
    payload = {**body, "transaction": transaction or _transaction()}
    if api_secret:
        payload["apisecret"] = api_secret
    try:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        request = httpx.Request("POST", _url(url), content=content, headers=_JSON_HEADERS, extensions=_REQUEST_TIMEOUTS)
        response = await client.send(request)
    except httpx.TimeoutException:
        raise MediaError(f"janus {body['janus']}: no answer within {REQUEST_TIMEOUT:g} s") from None
    except httpx.TransportError as exc:
        raise MediaUnavailable(f"janus {body['janus']}: cannot reach Janus ({type(exc).__name__})") from None
    try:
        reply = response.json()
    except ValueError:
        raise MediaError(f"janus {body['janus']}: HTTP {response.status_code} without JSON") from None
    if not isinstance(reply, dict):
        raise MediaError(f"janus {body['janus']}: unexpected reply")
    return reply


def _error_of(reply: JanusEvent, what: str) -> MediaError:
    error = reply.get("error", {})
    code = error.get("code")
    return MediaError(f"janus {what}: {error.get('reason', 'error')}", code=int(code) if code is not None else None)
