"""Helpers for tests that run a real Janus: settings on free RTP ports, the raw Janus API, process checks."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.media import MediaEngine
from app.media.janus_process import JanusEndpoint, JanusSupervisor


def require_janus() -> None:
    """Skip the calling test when Janus is not installed (``make test`` installs it)."""
    if shutil.which("janus") is None:
        pytest.skip("janus is not installed (apt-get install janus)")


def rtp_range() -> str:
    """A random 200-port range, so engines of parallel test runs rarely compete for the same ports."""
    low = random.randrange(20000, 38000, 2)
    return f"{low}-{low + 199}"


def media_settings(data_dir: Path, **media: Any) -> Settings:
    return Settings(data_dir=data_dir, media={"rtp_ports": rtp_range(), **media})


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: only its parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def supervisor_of(engine: MediaEngine) -> JanusSupervisor:
    backend = engine.backend
    assert isinstance(backend, JanusSupervisor)
    return backend


def endpoint_of(engine: MediaEngine) -> JanusEndpoint:
    endpoint = supervisor_of(engine).endpoint
    assert endpoint is not None
    return endpoint


class RawJanus:
    """Janus' API spoken directly (to look at what the engine did, independently of its client)."""

    def __init__(self, url: str, api_secret: str | None) -> None:
        self.url = url
        self.api_secret = api_secret
        self.client = httpx.AsyncClient(timeout=10)
        self.session: int | None = None
        self.handle: int | None = None

    async def post(self, path: str, body: dict[str, Any], *, secret: bool = True) -> dict[str, Any]:
        payload = {**body, "transaction": "raw"}
        if secret and self.api_secret:
            payload["apisecret"] = self.api_secret
        reply: dict[str, Any] = (await self.client.post(self.url + path, json=payload)).json()
        return reply

    async def audiobridge(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            self.session = (await self.post("", {"janus": "create"}))["data"]["id"]
            attach = {"janus": "attach", "plugin": "janus.plugin.audiobridge"}
            self.handle = (await self.post(f"/{self.session}", attach))["data"]["id"]
        reply = await self.post(f"/{self.session}/{self.handle}", {"janus": "message", "body": body})
        data: dict[str, Any] = reply["plugindata"]["data"]
        return data

    async def rooms(self) -> set[int]:
        return {int(room["room"]) for room in (await self.audiobridge({"request": "list"}))["list"]}

    async def participants(self, room: int) -> list[dict[str, Any]]:
        data = await self.audiobridge({"request": "listparticipants", "room": room})
        participants: list[dict[str, Any]] = data.get("participants", [])
        return participants

    async def info(self) -> dict[str, Any]:
        info: dict[str, Any] = (await self.client.get(f"{self.url}/info")).json()
        return info

    async def close(self) -> None:
        if self.session is not None:
            await self.post(f"/{self.session}", {"janus": "destroy"})
        await self.client.aclose()


def listening_tcp(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process ``pid`` listens on (from /proc, IPv4 and IPv6)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found: set[tuple[str, int]] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address_hex, port_hex = fields[1].split(":")
            found.add((_address(address_hex), int(port_hex, 16)))
    return found


def _address(hex_text: str) -> str:
    raw = bytes.fromhex(hex_text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))
