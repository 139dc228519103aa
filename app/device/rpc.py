"""``device.*`` methods (MCU API 2.9 pp. 57-62): query, health.query, network.query."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.state import AppServices
from app.device import network
from app.device.identity import (
    TOTAL_AUDIO_ONLY_PORTS,
    TOTAL_STREAMING_AND_CONTENT_PORTS,
    TOTAL_VIDEO_PORTS,
    serial_number,
)
from app.version import API_VERSION, BUILD_VERSION, MODEL, SOFTWARE_VERSION
from app.xmlrpc.codec import INT32_MAX, FinishedStruct
from app.xmlrpc.context import CallContext
from app.xmlrpc.dispatcher import Dispatcher, RpcParams

rpc: Dispatcher[CallContext] = Dispatcher()

# Health monitors of a software bridge: no fans, sensors or RTC battery to go out of spec.
STATUS_OK = "ok"


class NoParams(RpcParams):
    pass


@dataclass(frozen=True, slots=True)
class _SecondsReply:
    second: int
    services: AppServices
    reply: FinishedStruct


_last_query: _SecondsReply | None = None


@rpc.method("device.query", NoParams)
async def device_query(_params: NoParams, ctx: CallContext) -> dict[str, Any]:
    """CUCM's keep-alive poll. Its reply changes once a second (``currentTime``): it is built and encoded
    once per second and served as is until the next."""
    global _last_query
    second = int(time.time())
    last = _last_query
    if last is not None and last.second == second and last.services is ctx.services:
        return last.reply
    now = datetime.fromtimestamp(second, UTC).replace(tzinfo=None)
    reply = FinishedStruct(_query_reply(now, ctx.services))
    _last_query = _SecondsReply(second, ctx.services, reply)
    return reply


def _query_reply(now: datetime, services: AppServices) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "currentTime": now,
        "restartTime": services.started_at.replace(microsecond=0, tzinfo=None),
        "serial": serial_number(),
        "softwareVersion": SOFTWARE_VERSION,
        "buildVersion": BUILD_VERSION,
        "model": MODEL,
        "apiVersion": API_VERSION,
        "activatedFeatures": [],
        "clusterType": "unclustered",
        "totalVideoPorts": TOTAL_VIDEO_PORTS,
        "totalAudioOnlyPorts": TOTAL_AUDIO_ONLY_PORTS,
        "portReservationMode": "disabled",
        "shutdownStatus": "notShutdown",
        "rebootRequired": False,
        "finishedBooting": True,
    }
    if TOTAL_STREAMING_AND_CONTENT_PORTS:  # "Only provided if non-zero."
        reply["totalStreamingAndContentPorts"] = TOTAL_STREAMING_AND_CONTENT_PORTS
    return reply


def cpu_load_percent() -> int:
    """One-minute load average over the CPUs this process may use, as a percentage (0-100)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0
    cpus = len(os.sched_getaffinity(0)) or 1
    return max(0, min(100, round(100 * load / cpus)))


@rpc.method("device.health.query", NoParams)
async def device_health_query(_params: NoParams, _ctx: CallContext) -> dict[str, Any]:
    return {
        "cpuLoad": cpu_load_percent(),
        # Control plane only: this bridge processes no media itself.
        "mediaLoad": 0,
        "audioLoad": 0,
        "videoLoad": 0,
        "fanStatus": STATUS_OK,
        "fanStatusWorst": STATUS_OK,
        "temperatureStatus": STATUS_OK,
        "temperatureStatusWorst": STATUS_OK,
        "rtcBatteryStatus": STATUS_OK,
        "rtcBatteryStatusWorst": STATUS_OK,
        "voltagesStatus": STATUS_OK,
        "voltagesStatusWorst": STATUS_OK,
        "operationalStatus": "active",
    }


def _int32(value: int) -> int:
    """XML-RPC integers are 32-bit; the guide's ``*64`` string members carry the full counts."""
    return min(value, INT32_MAX)


def _port_a(interface: str, gateway: str) -> dict[str, Any]:
    address, netmask = network.interface_ipv4(interface)
    stats = network.counters(interface)
    return {
        "enabled": True,
        "ipv4Enabled": True,
        "ipv6Enabled": False,
        "linkStatus": network.link_up(interface),
        "speed": network.link_speed(interface),
        "fullDuplex": True,
        "macAddress": network.mac_address(interface),
        "packetsSent": _int32(stats.packets_sent),
        "packetsReceived": _int32(stats.packets_received),
        "multicastPacketsSent": 0,
        "multicastPacketsReceived": _int32(stats.multicast_received),
        "bytesSent": _int32(stats.bytes_sent),
        "bytesReceived": _int32(stats.bytes_received),
        "queueDrops": _int32(stats.receive_drops + stats.transmit_drops),
        "collisions": _int32(stats.collisions),
        "transmitErrors": _int32(stats.transmit_errors),
        "receiveErrors": _int32(stats.receive_errors),
        "bytesSent64": str(stats.bytes_sent),
        "bytesReceived64": str(stats.bytes_received),
        "dhcpv4": False,
        "ipv4Address": address,
        "ipv4SubnetMask": netmask,
        "defaultIpv4Gateway": gateway,
    }


_DISABLED_PORT: dict[str, Any] = {"enabled": False, "ipv4Enabled": False, "ipv6Enabled": False, "linkStatus": False}


@rpc.method("device.network.query", NoParams)
async def device_network_query(_params: NoParams, _ctx: CallContext) -> dict[str, Any]:
    route = network.default_route()
    resolver = network.resolver()
    servers = (*resolver.name_servers, "", "")
    return {
        "dns": {
            "hostName": socket.gethostname(),
            "nameServer": servers[0],
            "nameServerSecondary": servers[1],
            "domainName": resolver.domain,
        },
        "portA": _port_a(*route) if route else dict(_DISABLED_PORT),
        "portB": dict(_DISABLED_PORT),
    }
