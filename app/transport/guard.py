"""Connection limits, enforced in uvicorn's httptools protocol (one subclass, passed as ``http=``).

- A request's head must arrive within ``server.header_timeout`` seconds (counted from the connection's
  start, or from the end of the previous response on a keep-alive connection, so idle connections end
  too) and its body within ``server.body_timeout`` seconds of its head: else 408 and close.
- The head (request line and headers) is capped at ``server.max_header_bytes``: else 431 and close.
- A source address may hold ``server.max_connections_per_source`` connections per worker process at
  once (``server.trusted_proxies`` excepted); more are closed at once.
Each limit, when hit, is one warning line (at most one per limit every ``LIMIT_LOG_INTERVAL`` seconds,
naming the peer and how many hits the interval left unlogged).

TLS handshakes are bounded by the listener's ``ssl_handshake_timeout`` (see ``server.py``): the
protocol below only sees a connection once its handshake is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from app.core.config import IpNetwork, ServerSettings
from app.transport.one_write import adopt

logger = logging.getLogger("adhoc.transport")

LIMIT_LOG_INTERVAL = 10.0
# How often each worker looks for connections past their deadline (limits fire up to this much late).
SWEEP_SECONDS = 0.25
# A refused connection gets this long to take its reply before it is reset: a TLS close waits for the
# peer's close_notify (30 s by default) while the peer may keep sending what nobody will read.
REFUSED_GRACE_SECONDS = 1.0
# Scope key of a status the guard sent on the transport itself (e.g. 408 when the body never came).
SENT_STATUS_KEY = "adhoc.sent_status"
# Per header line: ": " and CRLF; per request line: spaces, "HTTP/1.1", CRLF and the method.
_HEADER_OVERHEAD = 4
_REQUEST_LINE_OVERHEAD = 24

Limit = Literal["header_timeout", "body_timeout", "max_header_bytes", "max_connections_per_source"]
_Phase = Literal["head", "body", "app"]


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request the guard refuses."""


@dataclass(slots=True)
class _LimitLog:
    """One line per limit per interval; hits in between are counted into the next line."""

    interval: float = LIMIT_LOG_INTERVAL
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)

    def hit(self, limit: Limit, peer: str, **fields: Any) -> None:
        now = self.clock()
        last = self._last.get(limit)
        if last is not None and now - last < self.interval:
            self._suppressed[limit] = self._suppressed.get(limit, 0) + 1
            return
        self._last[limit] = now
        suppressed = self._suppressed.pop(limit, 0)
        logger.warning("connection limit hit", extra={"limit": limit, "peer": peer, "suppressed": suppressed, **fields})


class ConnectionGuard:
    """The limits and the per-source connection counts of one worker process (both listeners)."""

    def __init__(
        self,
        *,
        header_timeout: float,
        body_timeout: float,
        max_header_bytes: int,
        max_connections_per_source: int,
        exempt: Sequence[IpNetwork] = (),
    ) -> None:
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_header_bytes = max_header_bytes
        self.max_connections_per_source = max_connections_per_source
        self._exempt = tuple(exempt)
        self._connections: dict[str, int] = {}
        self._watched: set[GuardedHttpToolsProtocol] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self.log = _LimitLog()

    @classmethod
    def from_settings(cls, server: ServerSettings) -> ConnectionGuard:
        return cls(
            header_timeout=server.header_timeout,
            body_timeout=server.body_timeout,
            max_header_bytes=server.max_header_bytes,
            max_connections_per_source=server.max_connections_per_source,
            exempt=server.trusted_proxies,
        )

    def _is_exempt(self, source: str) -> bool:
        if not self._exempt:
            return False
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(address in network for network in self._exempt)

    def admit(self, source: str) -> bool:
        """Count one more connection of ``source``; False (and nothing counted) when it holds its share."""
        held = self._connections.get(source, 0)
        if held >= self.max_connections_per_source and not self._is_exempt(source):
            self.log.hit("max_connections_per_source", source, connections=held)
            return False
        self._connections[source] = held + 1
        return True

    def release(self, source: str) -> None:
        held = self._connections.get(source, 0) - 1
        if held > 0:
            self._connections[source] = held
        else:
            self._connections.pop(source, None)

    def connections_of(self, source: str) -> int:
        return self._connections.get(source, 0)

    def watch(self, connection: GuardedHttpToolsProtocol) -> None:
        self._watched.add(connection)
        if self._sweeper is None:
            self._sweeper = connection.loop.call_later(SWEEP_SECONDS, self._sweep, connection.loop)

    def unwatch(self, connection: GuardedHttpToolsProtocol) -> None:
        self._watched.discard(connection)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in list(self._watched):
            connection.expire_if_due(now)
        self._sweeper = loop.call_later(SWEEP_SECONDS, self._sweep, loop) if self._watched else None

    def protocol(self) -> type[GuardedHttpToolsProtocol]:
        """The protocol class to pass as uvicorn's ``http=``, bound to this guard."""
        return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": self})


def _raw_reply(status: int, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    head = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    return STATUS_LINE[status] + head + body


_TIMEOUT_REPLY = _raw_reply(408, {"error": "request timeout"})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard's deadlines, head cap and per-source count."""

    guard: ClassVar[ConnectionGuard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._source: str | None = None  # set once admitted: that connection is counted
        self._phase: _Phase = "head"
        self._head_begun = False
        self._head_bytes = 0
        self._head_bytes_exact = 0
        self._served = False
        self._refusal: int | None = None
        self._deadline = math.inf  # loop time at which _expired runs (checked by the guard's sweep)
        self._deadline_limit: Limit = "header_timeout"
        self._idle_since: float | None = None  # loop time a keep-alive wait began (None: not waiting)

    # Connection life
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        source = self.client[0] if self.client else "unknown"
        if not self.guard.admit(source):
            transport.abort()
            return
        self._source = source
        self._arm(self.guard.header_timeout, "header_timeout")
        self.guard.watch(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._source is not None:
            self.guard.release(self._source)
            self.guard.unwatch(self)
            self._source = None
        super().connection_lost(exc)

    # A deadline is a number, not a timer: arming and disarming cost one store per request, and one sweep
    # per worker every SWEEP_SECONDS expires what is due (a timer per request cost ~7 us to set and cancel).
    def _arm(self, delay: float, limit: Limit) -> None:
        self._deadline = self.loop.time() + delay
        self._deadline_limit = limit

    def _disarm(self) -> None:
        self._deadline = math.inf

    def expire_if_due(self, now: float) -> None:
        if self._deadline <= now:
            self._deadline = math.inf
            self._expired(self._deadline_limit)

    def _close_refused(self) -> None:
        """Close after the reply is written, read nothing more, and reset the connection if it lingers."""
        transport = self.transport
        with contextlib.suppress(RuntimeError, AttributeError):
            transport.pause_reading()
        transport.close()
        self.loop.call_later(REFUSED_GRACE_SECONDS, transport.abort)

    def _peer(self) -> str:
        return self._source or (self.client[0] if self.client else "unknown")

    def _expired(self, limit: Limit) -> None:
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._phase == "head" and not self._head_begun:
            # Nothing of a request came: a keep-alive connection idle since its last response just ends;
            # a connection that never sent a byte is what a slow client looks like, so it is logged.
            if not self._served:
                self.guard.log.hit(limit, self._peer())
            self._close_refused()
            return
        self.guard.log.hit(limit, self._peer())
        if self._phase == "head":
            self.transport.write(_TIMEOUT_REPLY)
        elif cycle is not None and not cycle.response_complete:
            if not cycle.response_started:
                self.transport.write(_TIMEOUT_REPLY)
                cycle.scope[SENT_STATUS_KEY] = 408  # type: ignore[literal-required]
            # The app's receive() now answers http.disconnect and its send() is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self._close_refused()

    # Parsing
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        head_continues = self._phase == "head" and self._head_begun
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse_head(self._refusal)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._phase == "head" and self._head_begun:
            # The head is still incomplete: every byte since it began is head. (A chunk that also holds the
            # end of the previous request counts whole: an over-estimate only for pipelined requests.)
            self._head_bytes = (self._head_bytes if head_continues else 0) + len(data)
            if self._head_bytes > self.guard.max_header_bytes:
                self._refuse_head(431)

    def _refuse_head(self, status: int) -> None:
        self._disarm()
        if status == 431:
            self.guard.log.hit("max_header_bytes", self._peer(), limit_bytes=self.guard.max_header_bytes)
            reply = {"error": "request header fields too large", "limit_bytes": self.guard.max_header_bytes}
        else:
            reply = {"error": "bad request"}
        if not self.transport.is_closing():
            self.transport.write(_raw_reply(status, reply))
            self._close_refused()

    def _count_head(self, size: int) -> None:
        self._head_bytes_exact += size
        if self._head_bytes_exact > self.guard.max_header_bytes:
            self._refusal = 431
            raise _Refused

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        self._head_bytes_exact = _REQUEST_LINE_OVERHEAD
        if self._phase == "app":  # a pipelined request began while the previous one is being answered
            self._phase = "head"
            self._arm(self.guard.header_timeout, "header_timeout")
        elif self._idle_since is not None:  # the first byte after a keep-alive wait: the head's own deadline
            self._deadline = self._idle_since + self.guard.header_timeout
            self._idle_since = None

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # _count_head, inline: this runs for every header of every request
        size = self._head_bytes_exact + len(name) + len(value) + _HEADER_OVERHEAD
        self._head_bytes_exact = size
        if size > self.guard.max_header_bytes:
            self._refusal = 431
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_begun = False
        self._head_bytes = 0
        self._phase = "body"
        self._arm(self.guard.body_timeout, "body_timeout")
        super().on_headers_complete()
        adopt(self.cycle)

    def on_message_complete(self) -> None:
        if self._phase == "body":
            self._disarm()
            if self.cycle is not None and self.cycle.response_complete:  # answered before its body ended
                self._await_next_request()
            else:
                self._phase = "app"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # uvicorn's own, except for the keep-alive wait: uvicorn sets and cancels a timer per reply for it;
        # here it is the connection's deadline, which the guard's sweep checks (see _await_next_request).
        self._served = True
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:  # the next request has arrived already: its own phases follow
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._phase == "app":
            self._await_next_request()

    def _await_next_request(self) -> None:
        """Between requests: the next head is due ``header_timeout`` after this moment, and a connection
        that stays idle ends (quietly) after uvicorn's keep-alive time, when that is shorter."""
        self._phase = "head"
        self._idle_since = self.loop.time()
        self._arm(min(float(self.timeout_keep_alive), self.guard.header_timeout), "header_timeout")
