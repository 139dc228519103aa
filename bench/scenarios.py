"""What one load-generator connection sends: a script of XML-RPC requests, each checked on reply.

A script yields whole HTTP/1.1 requests (keep-alive) and judges each reply: ``None`` for success, else a
short outcome label (``fault-4``, ``http-500``) that the load report counts.
"""

from __future__ import annotations

import re
import xmlrpc.client
from typing import Any, Protocol

FAULT_CODE = re.compile(rb"<name>faultCode</name>\s*<value>\s*<int>(-?\d+)</int>")
# Conference numericIds: populated conferences use POPULATE_ID_BASE + n, bench cycles use CYCLE_ID_BASE + ...
POPULATE_ID_BASE = 10_000_000
CYCLE_ID_BASE = 50_000_000
CYCLE_IDS_PER_CONNECTION = 1_000_000


def xmlrpc_body(method: str, params: dict[str, Any] | None) -> bytes:
    args: tuple[Any, ...] = (params,) if params is not None else ()
    return xmlrpc.client.dumps(args, methodname=method).encode("utf-8")


def http_request(host: str, body: bytes) -> bytes:
    head = f"POST /RPC2 HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


def judge(status: int, body: bytes) -> str | None:
    if status != 200:
        return f"http-{status}"
    match = FAULT_CODE.search(body)
    return f"fault-{int(match.group(1))}" if match else None


class Script(Protocol):
    def next_request(self) -> bytes:
        """The next full HTTP request to send."""

    def on_response(self, status: int, body: bytes) -> str | None:
        """Judge the reply to the last request: None when it succeeded."""

    def at_boundary(self) -> bool:
        """True when stopping now leaves nothing half done (no created conference left behind)."""


class Credentials:
    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password

    def call(self, host: str, method: str, **params: Any) -> bytes:
        struct = {"authenticationUser": self.user, "authenticationPassword": self.password, **params}
        return http_request(host, xmlrpc_body(method, struct))


class FixedScript:
    """The same request every time (device.query; the baseline gets the very same bytes)."""

    def __init__(self, request: bytes) -> None:
        self._request = request

    def next_request(self) -> bytes:
        return self._request

    def on_response(self, status: int, body: bytes) -> str | None:
        return judge(status, body)

    def at_boundary(self) -> bool:
        return True


class ConferenceCycleScript:
    """The CUCM ad hoc cycle: create, (status,) destroy a fresh conference, again and again."""

    def __init__(self, host: str, creds: Credentials, tag: str, connection: int, *, with_status: bool) -> None:
        self._host = host
        self._creds = creds
        self._tag = tag
        self._connection = connection
        self._methods = (
            ("conference.create", "conference.status", "conference.destroy")
            if with_status
            else ("conference.create", "conference.destroy")
        )
        self._step = 0
        self._serial = 0

    def _name(self) -> str:
        return f"bc-{self._tag}-{self._connection}-{self._serial}"

    def next_request(self) -> bytes:
        method = self._methods[self._step]
        if method == "conference.create":
            numeric_id = CYCLE_ID_BASE + self._connection * CYCLE_IDS_PER_CONNECTION + self._serial
            return self._creds.call(self._host, method, conferenceName=self._name(), numericId=str(numeric_id))
        return self._creds.call(self._host, method, conferenceName=self._name())

    def on_response(self, status: int, body: bytes) -> str | None:
        outcome = judge(status, body)
        self._step += 1
        if self._step == len(self._methods) or (self._step == 1 and outcome is not None):
            self._step = 0  # cycle done, or the create failed: nothing to clean up, start a new name
            self._serial = (self._serial + 1) % CYCLE_IDS_PER_CONNECTION
        return outcome

    def at_boundary(self) -> bool:
        return self._step == 0


class EnumerateScript:
    """Walks ``conference.enumerate`` page by page (following ``enumerateID``), then starts over."""

    def __init__(self, host: str, creds: Credentials) -> None:
        self._host = host
        self._creds = creds
        self._cursor: str | None = None
        self.conferences_seen = 0

    def next_request(self) -> bytes:
        params: dict[str, Any] = {"moreThanFour": True}
        if self._cursor is not None:
            params["enumerateID"] = self._cursor
        return self._creds.call(self._host, "conference.enumerate", **params)

    def on_response(self, status: int, body: bytes) -> str | None:
        outcome = judge(status, body)
        if outcome is not None:
            self._cursor = None
            return outcome
        try:
            (result,), _method = xmlrpc.client.loads(body, use_builtin_types=True)
        except (xmlrpc.client.Error, ValueError):
            self._cursor = None
            return "bad-reply"
        cursor = result.get("enumerateID") if isinstance(result, dict) else None
        self._cursor = cursor if isinstance(cursor, str) else None
        conferences = result.get("conferences", []) if isinstance(result, dict) else []
        self.conferences_seen += len(conferences) if isinstance(conferences, list) else 0
        return None

    def at_boundary(self) -> bool:
        return True


class PopulateScript:
    """Creates conferences ``bench-pop-<n>`` for n in its share of a range; never deletes them."""

    def __init__(self, host: str, creds: Credentials, numbers: range) -> None:
        self._host = host
        self._creds = creds
        self._numbers = iter(numbers)
        self._current = next(self._numbers, None)

    def next_request(self) -> bytes:
        number = self._current if self._current is not None else 0
        name = f"bench-pop-{number}"
        return self._creds.call(
            self._host, "conference.create", conferenceName=name, numericId=str(POPULATE_ID_BASE + number)
        )

    def on_response(self, status: int, body: bytes) -> str | None:
        self._current = next(self._numbers, None)
        return judge(status, body)

    def done(self) -> bool:
        return self._current is None

    def at_boundary(self) -> bool:
        return True
