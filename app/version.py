"""Product identity reported to MCU API clients (device.query, /system.xml)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

PRODUCT = "adhoc-bridge"
MODEL = "adhoc-bridge virtual MCU"
API_VERSION = "2.9"

try:
    SOFTWARE_VERSION = version("adhoc-bridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    SOFTWARE_VERSION = "0.0.0"

BUILD_VERSION = f"{SOFTWARE_VERSION}(1)"
