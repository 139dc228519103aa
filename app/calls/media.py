"""The shape of the media engine the calls drive (``app.media`` implements it with Janus AudioBridge)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, Protocol, cast

if TYPE_CHECKING:
    from app.core.config import Settings

__all__ = ["build_engine", "MediaCodec", "MediaEngineLike", "MediaLegLike"]

MediaCodec = Literal["pcmu", "pcma", "opus"]


class MediaLegLike(Protocol):
    @property
    def leg_id(self) -> str: ...
    @property
    def room(self) -> int: ...
    @property
    def local_ip(self) -> str: ...
    @property
    def local_port(self) -> int: ...
    @property
    def payload_type(self) -> int: ...
    @property
    def codec(self) -> str: ...


class MediaEngineLike(Protocol):
    @property
    def available(self) -> bool: ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ensure_room(self, room: int) -> None: ...
    async def destroy_room(self, room: int) -> None: ...
    async def join(
        self,
        room: int,
        *,
        display: str,
        codec: MediaCodec,
        remote_ip: str,
        remote_port: int,
        opus_pt: int | None = None,
    ) -> MediaLegLike: ...
    async def update_remote(self, leg: MediaLegLike, remote_ip: str, remote_port: int) -> MediaLegLike: ...
    async def set_muted(self, leg: MediaLegLike, muted: bool) -> None: ...
    async def leave(self, leg: MediaLegLike) -> None: ...
    def on_lost(self, callback: Callable[[], Awaitable[None]]) -> None: ...


def build_engine(settings: Settings) -> MediaEngineLike:
    """The Janus AudioBridge engine ``settings`` ask for (``app.media``); unavailable ones answer 503."""
    from app.media import build_media_engine

    # its methods take its own MediaLeg, the legs it returned: the calls only hand those back
    return cast("MediaEngineLike", build_media_engine(settings))
