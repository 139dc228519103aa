"""``GET /system.xml`` (MCU API 2.9 p. 123): identity, port counts and uptime, on both listeners, no auth.

Nothing in it is secret; it is what a manager reads before it has credentials.
"""

from __future__ import annotations

import socket
from xml.etree import ElementTree as ET

from fastapi import APIRouter
from starlette.responses import Response

from app.admin.deps import ServicesDep
from app.device.identity import (
    MANUFACTURER,
    TOTAL_AUDIO_ONLY_PORTS,
    TOTAL_STREAMING_AND_CONTENT_PORTS,
    TOTAL_VIDEO_PORTS,
    serial_number,
    uptime_seconds,
)
from app.version import BUILD_VERSION, MODEL, SOFTWARE_VERSION

router = APIRouter(include_in_schema=False)


def _system_document(uptime: int) -> bytes:
    root = ET.Element("system")
    nodes: list[tuple[str, str]] = [
        ("manufacturer", MANUFACTURER),
        ("model", MODEL),
        ("serial", serial_number()),
        ("softwareVersion", SOFTWARE_VERSION),
        ("buildVersion", BUILD_VERSION),
        ("hostName", socket.gethostname()),
        ("totalVideoPorts", str(TOTAL_VIDEO_PORTS)),
    ]
    # Counts of zero are left out, as the guide says.
    if TOTAL_AUDIO_ONLY_PORTS:
        nodes.append(("totalAudioOnlyPorts", str(TOTAL_AUDIO_ONLY_PORTS)))
    if TOTAL_STREAMING_AND_CONTENT_PORTS:
        nodes.append(("totalStreamingAndContentPorts", str(TOTAL_STREAMING_AND_CONTENT_PORTS)))
    for name, text in nodes:
        ET.SubElement(root, name).text = text
    if TOTAL_VIDEO_PORTS:
        ET.SubElement(ET.SubElement(root, "videoPortAllocation"), "hd").text = str(TOTAL_VIDEO_PORTS)
    for name, text in (
        ("portReservationMode", "disabled"),
        ("maxVideoResolution", "max"),
        ("uptimeSeconds", str(uptime)),
        ("clusterType", "unclustered"),
    ):
        ET.SubElement(root, name).text = text
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + body


@router.get("/system.xml")
async def system_xml(services: ServicesDep) -> Response:
    return Response(_system_document(uptime_seconds(services)), media_type="text/xml")
