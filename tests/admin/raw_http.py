"""A kept-alive HTTPS connection whose serving worker is known (from ``ss``), for multi-worker tests."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from typing import Any

from tests.support.bridge import Bridge


class WorkerConnection:
    def __init__(self, bridge: Bridge) -> None:
        raw = socket.create_connection(("127.0.0.1", bridge.https_port), timeout=10)
        self.sock = bridge.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
        self.local_port = int(self.sock.getsockname()[1])
        self.bridge = bridge

    def worker_pid(self) -> int | None:
        """The pid holding the server side of this connection."""
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{self.bridge.https_port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[3].endswith(f":{self.local_port}") and "pid=" in line:
                return int(line.split("pid=", 1)[1].split(",", 1)[0])
        return None

    def request(
        self, method: str, path: str, body: bytes = b"", *, basic: tuple[str, str] | None = None, content_type: str = ""
    ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        if basic is not None:
            token = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            head.append(f"Authorization: Basic {token}")
        if content_type:
            head.append(f"Content-Type: {content_type}")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            data += chunk
        header, _, rest = data.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            rest += chunk
        return status, rest[:length]

    def json(self, method: str, path: str, payload: Any = None, *, basic: tuple[str, str]) -> tuple[int, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        status, reply = self.request(method, path, body, basic=basic, content_type="application/json")
        return status, json.loads(reply) if reply else None

    def close(self) -> None:
        self.sock.close()
