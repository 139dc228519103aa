"""An existing Janus (``media.janus_url``): waited for until its API answers, never started or stopped by us."""

from __future__ import annotations

import asyncio
import logging

import httpx

from app.media.janus_process import JanusEndpoint, wait_for_info

__all__ = ["ExternalJanus"]

log = logging.getLogger(__name__)

RETRY_FIRST = 0.5
RETRY_MAX = 10.0


class ExternalJanus:
    def __init__(self, url: str, api_secret: str | None) -> None:
        self.url = url.rstrip("/")
        self._api_secret = api_secret
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient()

    async def wait_up(self) -> JanusEndpoint:
        if self._client is None:
            raise RuntimeError("ExternalJanus.wait_up before start")
        delay = RETRY_FIRST
        warned = False
        while not await wait_for_info(self._client, self.url, timeout=delay):
            if not warned:
                log.warning("media: janus at %s does not answer; retrying", self.url)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
        return JanusEndpoint(self.url, self._api_secret)

    async def recycle(self, endpoint: JanusEndpoint) -> None:
        """Not ours to restart: keep retrying it."""

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
