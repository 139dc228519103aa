"""One-off XML-RPC calls over verified TLS: is a method there, and a template conference."""

from __future__ import annotations

import ssl
import xmlrpc.client
from pathlib import Path
from typing import Any


def call(port: int, cafile: Path, user: str, password: str, method: str, **params: Any) -> str | None:
    """Call ``method``; None on success, else a short reason (``fault 1: method not supported``)."""
    context = ssl.create_default_context(cafile=str(cafile))
    struct = {"authenticationUser": user, "authenticationPassword": password, **params}
    with xmlrpc.client.ServerProxy(f"https://127.0.0.1:{port}/RPC2", context=context) as proxy:
        try:
            getattr(proxy, method)(struct)
        except xmlrpc.client.Fault as fault:
            return f"fault {fault.faultCode}: {fault.faultString}"
        except (xmlrpc.client.ProtocolError, OSError) as exc:
            return f"{type(exc).__name__}"
    return None
