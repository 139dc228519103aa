"""Our own Janus: started with the configuration of ``janus_config``, restarted with back-off when it dies,
stopped by PID (SIGTERM, then SIGKILL after a bound) on shutdown.

Each start gets a free API port on 127.0.0.1 and a fresh API secret. The child is made to die with us
(``setpriv --pdeathsig``) so a killed service leaves no Janus behind, and a Janus left by an earlier run
(its PID in ``janus.pid``, its command line naming our configuration) is killed before a new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.media.janus_api import quiet_requests_to
from app.media.janus_config import EmbeddedJanusConfig, JanusFolders, write_config

__all__ = ["JanusEndpoint", "JanusSupervisor"]

log = logging.getLogger(__name__)

READY_TIMEOUT = 20.0
"""Seconds a fresh Janus gets to answer ``GET /janus/info``."""
STOP_TIMEOUT = 5.0
"""Seconds between SIGTERM and SIGKILL (Janus stops within about 3 s)."""
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0
"""A Janus that ran this long before dying restarts at once (back-off starts over)."""
PID_FILE = "janus.pid"
LOG_FILE = "janus.log"


@dataclass(eq=False)
class JanusEndpoint:
    """A running Janus' API; ``gone`` is set when that Janus exits (or, for an external one, never)."""

    url: str
    api_secret: str | None
    gone: asyncio.Event = field(default_factory=asyncio.Event)


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_info(client: httpx.AsyncClient, url: str, *, timeout: float) -> bool:
    """Poll ``<url>/info`` until Janus answers it (True) or ``timeout`` passes (False)."""
    quiet_requests_to(url)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            response = await client.get(f"{url}/info", timeout=2.0)
            if response.status_code == 200 and response.json().get("janus") == "server_info":
                return True
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() + delay > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


def _orphaned(pid: int) -> bool:
    """True when ``pid``'s parent is gone (it was re-parented to init or a subreaper): nobody supervises it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid <= 1:
            return True
        parent = Path(f"/proc/{ppid}/comm").read_text().strip()
    except (OSError, StopIteration, ValueError):
        return False
    # Its parent is alive: a service of ours (another owner, shutting down or not) is not to be disturbed.
    return not parent.startswith(("python", "adhoc-bridge"))


class JanusSupervisor:
    """Runs one Janus process at a time under ``directory``; ``wait_up`` gives the live one's endpoint."""

    def __init__(self, binary: Path, directory: Path, folders: JanusFolders, rtp_ports: tuple[int, int], rtp_ip: str):
        self.binary = binary
        self.directory = directory
        self.folders = folders
        self.rtp_ports = rtp_ports
        self.rtp_ip = rtp_ip
        self._process: asyncio.subprocess.Process | None = None
        self._endpoint: JanusEndpoint | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """PID of the Janus running now (None between runs)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def endpoint(self) -> JanusEndpoint | None:
        """The API of the Janus running now (None between runs)."""
        return self._endpoint

    async def start(self) -> None:
        if self._task is not None:
            return
        self._client = httpx.AsyncClient()
        self._task = asyncio.create_task(self._supervise(), name="janus-supervisor")

    async def wait_up(self) -> JanusEndpoint:
        while True:
            endpoint = self._endpoint
            if endpoint is not None and not endpoint.gone.is_set():
                return endpoint
            self._changed.clear()
            await self._changed.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._terminate()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def recycle(self, endpoint: JanusEndpoint) -> None:
        """Our Janus answers /info but refuses sessions (stuck or broken): stop it; the loop starts another."""
        if endpoint is self._endpoint and self._process is not None and self._process.returncode is None:
            log.warning("janus answers but cannot be used; restarting it", extra={"pid": self._process.pid})
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    def _set_endpoint(self, endpoint: JanusEndpoint | None) -> None:
        self._endpoint = endpoint
        self._changed.set()

    async def _supervise(self) -> None:
        assert self._client is not None
        backoff = BACKOFF_FIRST
        self._kill_leftover()
        while True:
            config = EmbeddedJanusConfig(
                directory=self.directory,
                folders=self.folders,
                api_port=_free_tcp_port(),
                api_secret=secrets.token_urlsafe(24),
                rtp_ports=self.rtp_ports,
                rtp_ip=self.rtp_ip,
            )
            try:
                process = await self._spawn(config)
            except OSError as exc:
                log.warning("janus could not be started (%s); retrying in %.1f s", exc.strerror or exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            endpoint = JanusEndpoint(config.api_url, config.api_secret)
            exited = asyncio.ensure_future(process.wait())
            ready = asyncio.ensure_future(wait_for_info(self._client, config.api_url, timeout=READY_TIMEOUT))
            try:
                await asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED)
                up = ready.done() and ready.result() and not exited.done()
                if up:
                    started = time.monotonic()
                    log.info(
                        "janus started",
                        extra={"pid": process.pid, "api": config.api_url, "rtp_ports": "{}-{}".format(*self.rtp_ports)},
                    )
                    self._set_endpoint(endpoint)
                    returncode = await exited
                    if time.monotonic() - started >= STABLE_AFTER:
                        backoff = BACKOFF_FIRST
                    log.warning(
                        "janus exited (status %s); restarting it in %.1f s (see %s)",
                        returncode,
                        backoff,
                        self.directory / LOG_FILE,
                    )
                else:
                    log.warning(
                        "janus did not come up (%s); restarting it in %.1f s (see %s)",
                        f"exit status {process.returncode}" if exited.done() else f"no answer in {READY_TIMEOUT:g} s",
                        backoff,
                        self.directory / LOG_FILE,
                    )
            finally:
                ready.cancel()
                endpoint.gone.set()
                self._set_endpoint(None)
                if not exited.done():
                    await self._terminate()
                exited.cancel()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _spawn(self, config: EmbeddedJanusConfig) -> asyncio.subprocess.Process:
        write_config(config)
        argv = [str(self.binary), "-C", str(config.main_file), "-F", str(config.directory), "-o"]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        log_path = self.directory / LOG_FILE
        with contextlib.suppress(OSError):
            if log_path.exists():
                log_path.replace(self.directory / (LOG_FILE + ".1"))
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
            )
        self._process = process
        self.starts += 1
        (self.directory / PID_FILE).write_text(f"{process.pid}\n")
        return process

    async def _terminate(self) -> None:
        """SIGTERM the current Janus by PID, SIGKILL it after ``STOP_TIMEOUT``; reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await process.wait()
            except TimeoutError:
                log.warning("janus did not stop within %.0f s of SIGTERM; killing it", STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        pid_file = self.directory / PID_FILE
        with contextlib.suppress(OSError, ValueError):
            if int(pid_file.read_text().strip()) == process.pid:  # not a successor's (owner handover)
                pid_file.unlink()

    def _kill_leftover(self) -> None:
        """Kill a Janus an earlier run of ours left behind (its PID file names it, its argv our config)."""
        pid_file = self.directory / PID_FILE
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.directory / "janus.jcfg").encode() in cmdline and _orphaned(pid):
            log.warning("killing a janus left behind by an earlier run", extra={"pid": pid})
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            pid_file.unlink()
