"""Runs the service: both listeners bound once, shared by ``server.workers`` processes.

The parent binds the HTTPS and HTTP sockets, then runs one worker itself (``workers = 1``) or forks N
workers that inherit both sockets. Each worker serves both with two uvicorn servers around one
lifespan. SIGTERM/SIGINT stop accepting, drain in-flight requests and exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from app.core.config import Settings
from app.core.tasks import sleep_or_wake
from app.main import create_app
from app.metrics.multiproc import mark_worker_dead
from app.transport.access_log import AccessLog
from app.transport.body_limit import BodyLimit
from app.transport.guard import ConnectionGuard
from app.transport.https_only import AdminHttpsOnly
from app.transport.listener import ListenerName, ListenerStamp
from app.transport.tls import certificate_paths, harden
from app.xmlrpc.endpoint import ManagementMiddleware

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 20
MAIN_LOOP_TICK_SECONDS = 1.0
# A worker that dies is restarted, unless workers died this often this recently: then give up (exit 1)
# rather than fork forever (a bad certificate, an unreachable database, a bug at start-up).
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_WINDOW_SECONDS = 60.0
# The garbage collector's youngest generation is collected after this many net allocations (CPython's
# default is 700). A request's containers die young and are freed by reference counting anyway; with 32
# requests in flight their count crosses 700 again and again, and the collections cost 3.4% of an ad hoc
# cycle request's instructions (callgrind); at 10,000 they cost 0.1-0.3%.
GC_YOUNG_THRESHOLD = 10_000
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class Listeners:
    https: socket.socket
    http: socket.socket


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _bind_group(host: str, port: int, count: int) -> list[socket.socket]:
    """One socket per worker on the same port. With several, SO_REUSEPORT lets the kernel spread new
    connections over the workers; one shared socket would let whichever worker wakes first accept a
    whole burst of keep-alive connections (CUCM's included) and serve them alone."""
    if count == 1:
        return [_bind(host, port, reuse_port=False)]
    first = _bind(host, port, reuse_port=True)
    bound_port = int(first.getsockname()[1])
    return [first, *(_bind(host, bound_port, reuse_port=True) for _ in range(count - 1))]


def bind_listeners(settings: Settings) -> list[Listeners]:
    """The listeners of each worker, bound here once (before any privilege or fork matters)."""
    count = settings.server.workers
    https = _bind_group(settings.server.host, settings.server.https_port, count)
    http = _bind_group(settings.server.host, settings.server.http_port, count)
    return [Listeners(https=pair[0], http=pair[1]) for pair in zip(https, http, strict=True)]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the worker (one handler stops both servers),
    bounds TLS handshakes by ``handshake_timeout`` seconds (asyncio's default is 60), and ticks once a
    second (uvicorn's loop wakes ten times a second to refresh a header that changes once a second and to
    notice a stop; here ``stop()`` wakes it at once). Two servers per worker, each waking an idle worker."""

    def __init__(self, config: uvicorn.Config, handshake_timeout: float) -> None:
        super().__init__(config)
        self.handshake_timeout = handshake_timeout
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        # on_tick(0): the Date header is refreshed on every (one-second) tick, as uvicorn does every tenth.
        while not await self.on_tick(0):
            await sleep_or_wake(self._stopping, MAIN_LOOP_TICK_SECONDS)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start on given sockets (the only way this service starts), plus the handshake bound."""
        if sockets is None:  # pragma: no cover - serve_worker always passes its sockets
            raise ValueError("the worker's listening sockets are required")
        config = self.config
        if not config.loaded:
            config.load()
        await self.lifespan.startup()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=_loop
            )

        loop = asyncio.get_running_loop()
        handshake = self.handshake_timeout if config.ssl else None  # asyncio refuses a timeout without TLS
        self.servers = [
            await loop.create_server(
                create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog, ssl_handshake_timeout=handshake
            )
            for sock in sockets
        ]
        self.started = True


def wrap_for_listener(app: FastAPI, listener: ListenerName, settings: Settings) -> ASGIApp:
    """The stack in front of the FastAPI app, outermost first. ``/RPC2`` is a FastAPI route like the rest;
    its dependency checks the listener and caps the body itself, so the management layers skip it."""
    routed = ManagementMiddleware(app, AdminHttpsOnly(BodyLimit(app)))
    return ListenerStamp(AccessLog(routed), listener, settings.server.trusted_proxies)


def _config(
    app: FastAPI,
    settings: Settings,
    listener: ListenerName,
    tls: tuple[Path, Path] | None,
    guard: ConnectionGuard,
) -> uvicorn.Config:
    def context_factory(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return harden(default())

    return uvicorn.Config(
        wrap_for_listener(app, listener, settings),
        http=guard.protocol(),
        lifespan="off",  # the worker runs the one lifespan itself
        proxy_headers=False,  # decided per peer by ListenerStamp
        forwarded_allow_ips=[],
        server_header=False,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        ssl_context_factory=context_factory if tls else None,
    )


async def serve_worker(settings: Settings, listeners: Listeners, tls: tuple[Path, Path]) -> None:
    app = create_app(settings)
    guard = ConnectionGuard.from_settings(settings.server)  # one per worker: both listeners share the counts
    handshake = settings.server.header_timeout
    servers = (
        (_Server(_config(app, settings, "https", tls, guard), handshake), listeners.https),
        (_Server(_config(app, settings, "http", None, guard), handshake), listeners.http),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        # Everything built so far (modules, settings, app) lives as long as the worker: keep it out of the
        # garbage collector's full passes, which would otherwise walk it again and again under load.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for server, _sock in servers:
            server.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()


def _run_worker(settings: Settings, listeners: Listeners, tls: tuple[Path, Path]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        asyncio.run(serve_worker(settings, listeners, tls))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_worker(settings, listeners, tls))


class CrashLoopGuard:
    """Remembers recent worker deaths; ``tripped`` once ``limit`` of them fall within ``window`` seconds."""

    def __init__(self, limit: int = CRASH_LOOP_DEATHS, window: float = CRASH_LOOP_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._deaths: deque[float] = deque()

    def record_death(self, now: float) -> bool:
        """Note one death; True when the recent ones reach the limit."""
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > self.window:
            self._deaths.popleft()
        return len(self._deaths) >= self.limit


def _supervise(settings: Settings, listeners: list[Listeners], tls: tuple[Path, Path]) -> int:
    """Fork one child per listener pair; restart one that dies (on its pair); forward stop signals.

    Gives up with status 1 when workers keep dying (see ``CrashLoopGuard``).
    """
    stopping = False
    children: dict[int, int] = {}
    crashes = CrashLoopGuard()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # worker
            for sig in _STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            code = 0
            try:
                _run_worker(settings, listeners[index], tls)
            except BaseException:
                logger.exception("worker failed")
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = index

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, forward)
    for index in range(len(listeners)):
        spawn(index)
    logger.info("workers started", extra={"workers": settings.server.workers, "pids": sorted(children)})

    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        if pid not in children:
            continue
        index = children.pop(pid)
        mark_worker_dead(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            status = status or (code if code > 0 else 0)
        elif crashes.record_death(time.monotonic()):
            logger.error(
                "workers keep dying; stopping the service",
                extra={"pid": pid, "exit_code": code, "deaths": crashes.limit, "window_s": crashes.window},
            )
            stopping = True
            status = 1
            forward(signal.SIGTERM, None)
        else:
            logger.error("worker exited; restarting it", extra={"pid": pid, "exit_code": code})
            spawn(index)
    return status


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (service managers often leave it at 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            logger.warning("could not raise the open-files limit", extra={"soft": soft, "hard": hard})
            return soft, hard
    logger.info("open-files limit", extra={"soft": hard, "hard": hard, "was": soft})
    return hard, hard


def serve(settings: Settings, before_serving: Callable[[], None] | None = None) -> int:
    """Bind, prepare (certificate, migrations) once in this process, then serve until stopped."""
    raise_open_files_limit()
    listeners = bind_listeners(settings)
    tls = certificate_paths(settings)
    if before_serving is not None:
        before_serving()
    logger.info(
        "listening",
        extra={
            "https": f"{settings.server.host}:{settings.server.https_port}",
            "http": f"{settings.server.host}:{settings.server.http_port}",
            "http_access_for_external_systems": settings.external_system.enable_http_access,
            "workers": settings.server.workers,
        },
    )
    if len(listeners) == 1:
        _run_worker(settings, listeners[0], tls)
        return 0
    code = _supervise(settings, listeners, tls)
    sys.stderr.flush()
    return code
