"""Runs one load step in a separate, pinned load-generator process and returns its result."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

from bench.load import HARD_STOP_GRACE, LoadResult, LoadSpec
from bench.processes import LOAD_CPUS, REPO_ROOT, pinned


class LoadFailed(RuntimeError):
    pass


def run_load(spec: LoadSpec, *, timeout: float | None = None) -> LoadResult:
    argv = pinned(LOAD_CPUS, [sys.executable, "-m", "bench.load", json.dumps(asdict(spec))])
    limit = timeout if timeout is not None else spec.warmup + spec.duration + HARD_STOP_GRACE + 15
    completed = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, timeout=limit, check=False)
    if completed.returncode != 0:
        raise LoadFailed(completed.stderr.decode(errors="replace")[-2000:])
    data = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    known = {item.name for item in fields(LoadResult)}
    return LoadResult(**{key: value for key, value in data.items() if key in known})


def capture_reply(port: int, cafile: Path, request: bytes) -> bytes:
    """One request over verified TLS; returns the reply body (to give the baseline the same bytes)."""
    import socket
    import ssl

    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        return body[:length]
