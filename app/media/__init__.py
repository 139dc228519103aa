"""Media: conferences mixed by Janus AudioBridge; one room per conference, one plain-RTP leg per call."""

from app.media.build import build_media_engine
from app.media.engine import MediaEngine
from app.media.errors import MediaError, MediaUnavailable
from app.media.leg import Codec, MediaLeg

__all__ = ["Codec", "MediaEngine", "MediaError", "MediaLeg", "MediaUnavailable", "build_media_engine"]
