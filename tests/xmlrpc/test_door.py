"""Every route under /RPC2 goes through the ExternalSystem dependency; the auth matrix holds on /RPC2/ too."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.types import Message

from app.core.config import Settings
from app.main import create_app
from app.transport.reply import json_reply
from app.transport.server import wrap_for_listener
from app.xmlrpc.deps import RpcRefusal, external_system
from tests.support.bridge import Bridge, auth
from tests.support.clients import CLIENT_KINDS, ClientKind, post_rpc
from tests.xmlrpc.test_endpoint import CASES, CREDENTIALS, Case, Expected

PATHS = ("/RPC2", "/RPC2/")


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = set()
    for dependency in dependant.dependencies:
        found.add(dependency.call)
        found |= _calls(dependency)
    return found


def _served_routes(path: str) -> list[RouteContext]:
    """Every route of the real application whose path pattern takes ``path`` (routers flattened)."""
    app = create_app(Settings())
    found: list[RouteContext] = []
    for context in iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and regex.match(path):
            found.append(context)
    return found


@pytest.mark.parametrize("path", [*PATHS, "/RPC2/x", "/RPC2x", "/rpc2", "/RPC2//"])
def test_every_route_that_serves_an_rpc_path_depends_on_the_external_system_door(path: str) -> None:
    serving = _served_routes(path)
    for context in serving:
        dependant = getattr(context, "dependant", None)
        assert isinstance(dependant, Dependant), f"{context.path} serves {path} outside FastAPI's dependencies"
        assert external_system in _calls(dependant), f"{context.path} is served without ExternalSystem"
    if path in PATHS:
        assert [context.path for context in serving] == [path]
        assert serving[0].methods is not None
        assert "POST" in serving[0].methods


def test_no_route_under_rpc2_lacks_the_door() -> None:
    app = create_app(Settings())
    under = [context for context in iter_route_contexts(app.routes) if (context.path or "").upper().startswith("/RPC2")]
    assert {context.path for context in under} == set(PATHS)
    for context in under:
        assert external_system in _calls(context.dependant)


def _rows() -> list[object]:
    rows: list[object] = []
    for listener in ("https", "http"):
        for http_access in (False, True):
            for index, case in enumerate(CASES):
                client = CLIENT_KINDS[index % len(CLIENT_KINDS)]
                row_id = f"{listener}-access_{'on' if http_access else 'off'}-{case.name}-{client}"
                rows.append(pytest.param(listener, http_access, case, client, id=row_id))
    return rows


@pytest.mark.parametrize(("listener", "http_access", "case", "client"), _rows())
def test_authentication_matrix_on_the_trailing_slash_path(
    request: pytest.FixtureRequest, listener: str, http_access: bool, case: Case, client: ClientKind
) -> None:
    """The same matrix as test_endpoint.py's, against /RPC2/ (where CUCM's Meeting Server type posts)."""
    bridge: Bridge = request.getfixturevalue("http_bridge" if http_access else "bridge")
    params = {} if case.body is None else auth(*CREDENTIALS[case.body])
    basic = None if case.basic is None else CREDENTIALS[case.basic]
    reply = post_rpc(client, bridge, "device.query", params, http=listener == "http", basic=basic, path="/RPC2/")

    expected: Expected = "403" if listener == "http" and not http_access else case.expected()
    if expected == "403":
        assert reply.status == 403
        if client != "xmlrpc":
            assert "HTTP access for external systems is disabled" in reply.json()["error"]
    elif expected == "401":
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == 'Basic realm="adhoc-bridge"'
        if client != "xmlrpc":
            assert (reply.fault_code, reply.fault_string) == (15, "insufficient privileges")
    elif expected == "fault15":
        assert (reply.status, reply.fault_code, reply.fault_string) == (200, 15, "insufficient privileges")
    else:
        assert reply.status == 200, reply
        assert reply.result is not None
        assert reply.result["apiVersion"] == "2.9"


@pytest.mark.parametrize("path", PATHS)
def test_only_post_on_either_path(bridge: Bridge, path: str) -> None:
    with bridge.client() as client:
        response = client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "XML-RPC calls are POSTed to /RPC2"}


@pytest.mark.parametrize("path", PATHS)
def test_unknown_method_is_fault_1_and_logged_by_name_without_credentials(bridge: Bridge, path: str) -> None:
    reply = post_rpc("httpx", bridge, "factory.nosuchthing", auth(), path=path)
    assert (reply.status, reply.fault_code, reply.fault_string) == (200, 1, "method not supported")
    log = bridge.log_text()
    assert "factory.nosuchthing" in log
    assert CREDENTIALS["right"][1] not in log


@pytest.mark.parametrize("path", PATHS)
def test_the_served_stack_sends_rpc_paths_through_the_dependency(path: str) -> None:
    """What uvicorn runs (wrap_for_listener) reaches /RPC2 only via FastAPI and ExternalSystem: with the
    dependency replaced by one that refuses with a 418, every request to either path gets that 418."""
    settings = Settings()
    app = create_app(settings)

    async def teapot() -> None:
        raise RpcRefusal(json_reply(418, {"error": "door"}))

    app.dependency_overrides[external_system] = teapot
    stack = wrap_for_listener(app, "https", settings)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"<methodCall/>", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"text/xml")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8443),
    }

    async def request() -> None:
        await stack(scope, receive, send)

    asyncio.run(request())
    assert sent[0]["status"] == 418


@pytest.mark.parametrize("path", PATHS)
def test_plain_http_is_refused_before_the_body_cap(bridge: Bridge, path: str) -> None:
    """403 (HTTP access off) comes before 413: the listener is checked before the body is looked at."""
    oversized = b"<methodCall>" + b" " * (70 * 1024) + b"</methodCall>"
    with bridge.client(http=True) as client:
        response = client.post(path, content=oversized, headers={"content-type": "text/xml"})
    assert response.status_code == 403
    with bridge.client() as client:
        response = client.post(path, content=oversized, headers={"content-type": "text/xml"})
    assert response.status_code == 413
    assert response.json()["error"] == "request body too large"
