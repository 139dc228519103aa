"""``build_media_engine``: our own Janus, an existing one (``media.janus_url``), or none (503 for calls)."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from pathlib import Path

from app.core.config import Settings
from app.media.engine import MediaEngine
from app.media.janus_config import find_janus_folders
from app.media.janus_external import ExternalJanus
from app.media.janus_process import JanusSupervisor

__all__ = ["INSTALL_HINT", "build_media_engine", "rtp_address"]

INSTALL_HINT = "install it with `apt-get install janus` or set media.janus_url"


def rtp_address(local_host: str) -> str:
    """The address our Janus binds its RTP to and puts in SDP answers: ``sip.local_host`` (resolved)."""
    try:
        address = ipaddress.ip_address(local_host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(local_host, None, socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:
            return "127.0.0.1"
        return str(infos[0][4][0]) if infos else "127.0.0.1"
    if address.is_unspecified:
        return "127.0.0.1"
    return str(address)


def build_media_engine(settings: Settings) -> MediaEngine:
    """The engine ``settings`` ask for; nothing starts before ``await engine.start()``."""
    media = settings.media
    if media.janus_url is not None:
        secret = media.janus_api_secret.get_secret_value() if media.janus_api_secret is not None else None
        return MediaEngine(ExternalJanus(media.janus_url, secret or None), shared_janus=True)
    binary = shutil.which(media.janus_binary)
    if binary is None:
        reason = f"no janus program ({media.janus_binary!r} not found); {INSTALL_HINT}"
        return MediaEngine(None, unavailable_reason=reason)
    folders = find_janus_folders(Path(binary))
    if folders is None:
        return MediaEngine(
            None, unavailable_reason=f"{binary} has no AudioBridge plugin or HTTP transport next to it; {INSTALL_HINT}"
        )
    supervisor = JanusSupervisor(
        Path(binary),
        (settings.data_dir / "janus").resolve(),
        folders,
        media.rtp_port_range,
        rtp_address(settings.sip.local_host),
    )
    return MediaEngine(supervisor)
