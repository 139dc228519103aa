"""What ``device.network.query`` reports: the host's default-route interface as port A, read from /proc and /sys.

Everything is best effort: a fact the host does not expose comes back as the guide's "not configured"
value (an empty string, or zero), never as an error.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

_PROC_ROUTE = Path("/proc/net/route")
_PROC_DEV = Path("/proc/net/dev")
_SYS_NET = Path("/sys/class/net")
_RESOLV_CONF = Path("/etc/resolv.conf")


@dataclass(frozen=True, slots=True)
class InterfaceCounters:
    bytes_received: int = 0
    packets_received: int = 0
    receive_errors: int = 0
    receive_drops: int = 0
    multicast_received: int = 0
    bytes_sent: int = 0
    packets_sent: int = 0
    transmit_errors: int = 0
    transmit_drops: int = 0
    collisions: int = 0


@dataclass(frozen=True, slots=True)
class Resolver:
    name_servers: tuple[str, ...]
    domain: str


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def default_route() -> tuple[str, str] | None:
    """(interface, IPv4 gateway) of the default route, if there is one."""
    for line in _read(_PROC_ROUTE).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "00000000":
            gateway = socket.inet_ntoa(struct.pack("<I", int(fields[2], 16)))
            return fields[0], gateway
    return None


def interface_ipv4(interface: str) -> tuple[str, str]:
    """(address, netmask) of the interface from its connected route and the address the kernel would use."""
    netmask = ""
    for line in _read(_PROC_ROUTE).splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[0] == interface and fields[1] != "00000000" and fields[2] == "00000000":
            netmask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
            break
    address = ""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, only a route lookup
            address = str(probe.getsockname()[0])
    except OSError:
        pass
    return address, netmask


def mac_address(interface: str) -> str:
    return _read(_SYS_NET / interface / "address").strip().replace(":", "").upper()


def link_speed(interface: str) -> int:
    """10, 100 or 1000 Mbps as the guide allows (virtual links report -1: call them 1000)."""
    try:
        speed = int(_read(_SYS_NET / interface / "speed").strip())
    except ValueError:
        speed = -1
    if speed <= 0 or speed >= 1000:
        return 1000
    return 100 if speed >= 100 else 10


def link_up(interface: str) -> bool:
    return _read(_SYS_NET / interface / "operstate").strip() in ("up", "unknown")


def counters(interface: str) -> InterfaceCounters:
    for line in _read(_PROC_DEV).splitlines()[2:]:
        name, _, rest = line.partition(":")
        if name.strip() != interface:
            continue
        values = [int(value) for value in rest.split()]
        if len(values) < 16:
            break
        return InterfaceCounters(
            bytes_received=values[0],
            packets_received=values[1],
            receive_errors=values[2],
            receive_drops=values[3],
            multicast_received=values[7],
            bytes_sent=values[8],
            packets_sent=values[9],
            transmit_errors=values[10],
            transmit_drops=values[11],
            collisions=values[13],
        )
    return InterfaceCounters()


def resolver() -> Resolver:
    servers: list[str] = []
    domain = ""
    for line in _read(_RESOLV_CONF).splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        if fields[0] == "nameserver":
            try:
                servers.append(str(ipaddress.ip_address(fields[1])))
            except ValueError:
                continue
        elif fields[0] in ("domain", "search") and not domain:
            domain = fields[1]
    return Resolver(tuple(servers), domain)
