"""What the media layer raises: the SIP side maps ``MediaUnavailable`` to 503 with ``Retry-After``."""

from __future__ import annotations

__all__ = ["MediaError", "MediaUnavailable"]


class MediaError(Exception):
    """Janus refused a request (the message names the request and Janus' error code, never a secret)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class MediaUnavailable(MediaError):
    """No Janus to mix with right now (not installed, not up yet, or just lost): answer 503 + Retry-After."""
