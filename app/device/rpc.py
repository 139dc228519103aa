"""``device.*`` methods (MCU API 2.9 pp. 59-64)."""

from __future__ import annotations

from typing import Any

from app.device.identity import (
    TOTAL_AUDIO_ONLY_PORTS,
    TOTAL_STREAMING_AND_CONTENT_PORTS,
    TOTAL_VIDEO_PORTS,
    serial_number,
    uptime_seconds,
    utc_now,
)
from app.version import API_VERSION, BUILD_VERSION, MODEL, SOFTWARE_VERSION
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher, RpcParams

rpc: Dispatcher[CallContext] = Dispatcher()


class NoParams(RpcParams):
    pass


@rpc.method("device.query", NoParams)
async def device_query(_params: NoParams, ctx: CallContext) -> dict[str, Any]:
    started = ctx.services.started_at.replace(microsecond=0, tzinfo=None)
    return {
        "currentTime": utc_now(),
        "restartTime": started,
        "serial": serial_number(),
        "softwareVersion": SOFTWARE_VERSION,
        "buildVersion": BUILD_VERSION,
        "model": MODEL,
        "apiVersion": API_VERSION,
        "activatedFeatures": [],
        "clusterType": "unclustered",
        "totalVideoPorts": TOTAL_VIDEO_PORTS,
        "totalAudioOnlyPorts": TOTAL_AUDIO_ONLY_PORTS,
        "totalStreamingAndContentPorts": TOTAL_STREAMING_AND_CONTENT_PORTS,
        "portReservationMode": "disabled",
        "shutdownStatus": "none",
        "rebootRequired": False,
        "finishedBooting": True,
        "uptime": uptime_seconds(ctx.services),
    }
