"""device.query, device.health.query, device.network.query and /system.xml as MCU API 2.9 describes them."""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.support.bridge import ADMIN_PASSWORD, EXTERNAL_PASSWORD, Bridge, auth

STATUSES = {"ok", "outOfSpec", "critical"}


def _call(bridge: Bridge, method: str) -> dict[str, Any]:
    with bridge.rpc() as proxy:
        reply = getattr(proxy, method)(auth())
    assert isinstance(reply, dict)
    return reply


def test_device_query_members(bridge: Bridge) -> None:
    reply = _call(bridge, "device.query")
    assert set(reply) >= {
        "currentTime",
        "restartTime",
        "serial",
        "softwareVersion",
        "buildVersion",
        "model",
        "apiVersion",
        "activatedFeatures",
        "totalVideoPorts",
        "totalAudioOnlyPorts",
        "finishedBooting",
    }
    assert reply["apiVersion"] == "2.9"
    assert reply["finishedBooting"] is True
    assert reply["shutdownStatus"] in {"shutdown", "shutdownInProgress", "notShutdown"}
    assert reply["clusterType"] in {"master", "slave", "unclustered"}
    assert "totalStreamingAndContentPorts" not in reply or reply["totalStreamingAndContentPorts"] > 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    current = dt.datetime.strptime(reply["currentTime"].value, "%Y%m%dT%H:%M:%S")
    restart = dt.datetime.strptime(reply["restartTime"].value, "%Y%m%dT%H:%M:%S")
    assert abs((current - now).total_seconds()) < 5
    assert restart <= current


def test_device_query_current_time_follows_the_clock_while_the_reply_is_kept_for_one_second(bridge: Bridge) -> None:
    # The reply is built once a second: polled many times a second it stays the same, and it moves on.
    seen: list[str] = []
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        seen.append(_call(bridge, "device.query")["currentTime"].value)
    distinct = sorted(set(seen))
    assert 3 <= len(distinct) <= 5
    seconds = [dt.datetime.strptime(value, "%Y%m%dT%H:%M:%S") for value in distinct]
    assert all((later - earlier).total_seconds() == 1 for earlier, later in zip(seconds, seconds[1:], strict=False))
    assert seen == sorted(seen)  # never back in time


def test_device_health_query_members(bridge: Bridge) -> None:
    reply = _call(bridge, "device.health.query")
    for member in ("cpuLoad", "mediaLoad", "audioLoad", "videoLoad"):
        assert 0 <= reply[member] <= 100
    for member in ("fanStatus", "temperatureStatus", "rtcBatteryStatus", "voltagesStatus"):
        assert reply[member] in STATUSES
        assert reply[f"{member}Worst"] in STATUSES
    assert reply["operationalStatus"] == "active"


def test_device_network_query_members(bridge: Bridge) -> None:
    reply = _call(bridge, "device.network.query")
    assert set(reply) == {"dns", "portA", "portB"}
    assert set(reply["dns"]) >= {"hostName", "nameServer", "nameServerSecondary", "domainName"}
    port_a = reply["portA"]
    assert port_a["enabled"] is True
    assert port_a["speed"] in (10, 100, 1000)
    assert len(port_a["macAddress"]) == 12
    assert int(port_a["bytesSent64"]) >= 0
    assert port_a["ipv4Address"].count(".") == 3
    assert reply["portB"]["enabled"] is False


@pytest.mark.parametrize("http", [False, True])
def test_system_xml_on_both_listeners_without_auth(bridge: Bridge, http: bool) -> None:
    with bridge.client(http=http) as client:
        response = client.get("/system.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "system"
    fields = {child.tag: child for child in root}
    for name in ("manufacturer", "model", "serial", "softwareVersion", "buildVersion", "totalVideoPorts"):
        assert fields[name].text
    assert int(fields["totalVideoPorts"].text or "0") > 0
    assert int(fields["uptimeSeconds"].text or "-1") >= 0
    assert fields["clusterType"].text == "unclustered"
    for secret in (EXTERNAL_PASSWORD, ADMIN_PASSWORD):
        assert secret not in response.text
