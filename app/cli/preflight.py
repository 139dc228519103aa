"""Checks ``serve`` runs before anything else, so a first start that cannot work says why in one line.

Each problem is ``start-up error: <setting>: <problem>`` on stderr and exit status 2, no traceback:
a ``data_dir`` that cannot be created or written, a listening port already in use (or not ours to bind),
an unreadable or unusable certificate or key. The metrics directory is prepared here too, since it lives
in ``data_dir`` and must exist before the workers fork.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from app.core.config import Settings
from app.metrics.multiproc import metrics_dir, prepare_metrics_dir

EXIT_START_UP_ERROR = 2


class StartUpError(SystemExit):
    def __init__(self, setting: str, problem: str) -> None:
        print(f"start-up error: {setting}: {problem}", file=sys.stderr)
        super().__init__(EXIT_START_UP_ERROR)


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def check_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StartUpError("data_dir", f"{data_dir} exists and is not a directory") from None
    except NotADirectoryError:
        raise StartUpError("data_dir", f"cannot create {data_dir}: a parent of it is not a directory") from None
    except OSError as exc:
        raise StartUpError("data_dir", f"cannot create {data_dir}: {_reason(exc)}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise StartUpError("data_dir", f"{data_dir} is not writable: {_reason(exc)}") from None
    try:
        prepare_metrics_dir(data_dir)
    except OSError as exc:
        raise StartUpError("data_dir", f"cannot prepare {metrics_dir(data_dir)}: {_reason(exc)}") from None


def _probe_bind(host: str, port: int, setting: str) -> None:
    """Bind (without listening, then release) as the server will; no SO_REUSEPORT, so a port another
    process listens on with SO_REUSEPORT is found too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror:
            raise StartUpError("server.host", f"{host} is not an address or a name that resolves") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartUpError(setting, f"port {port} on {host} is already in use") from None
            if exc.errno == errno.EACCES:
                problem = f"no permission to bind port {port} (below 1024 needs root or CAP_NET_BIND_SERVICE)"
                raise StartUpError(setting, problem) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise StartUpError("server.host", f"{host} is not an address of this machine") from None
            raise StartUpError(setting, f"cannot bind port {port} on {host}: {_reason(exc)}") from None


def check_ports(settings: Settings) -> None:
    server = settings.server
    _probe_bind(server.host, server.https_port, "server.https_port")
    _probe_bind(server.host, server.http_port, "server.http_port")


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StartUpError(setting, f"{path}: no such file") from None
    except IsADirectoryError:
        raise StartUpError(setting, f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise StartUpError(setting, f"cannot read {path}: {_reason(exc)}") from None


def check_certificate(settings: Settings) -> None:
    """The operator's pair (a generated one is made in ``data_dir``, checked above)."""
    certfile, keyfile = settings.server.certfile, settings.server.keyfile
    if certfile is None or keyfile is None:
        return
    try:
        x509.load_pem_x509_certificates(_read(certfile, "server.certfile"))
    except ValueError:
        raise StartUpError("server.certfile", f"{certfile} holds no PEM certificate") from None
    try:
        serialization.load_pem_private_key(_read(keyfile, "server.keyfile"), password=None)
    except TypeError:
        raise StartUpError("server.keyfile", f"{keyfile} is encrypted; give an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise StartUpError("server.keyfile", f"{keyfile} holds no PEM private key") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError):
        raise StartUpError("server.keyfile", f"{keyfile} does not match the certificate in {certfile}") from None


def check_start_up(settings: Settings) -> None:
    """Raise ``StartUpError`` (exit 2, one line) for the first problem found."""
    check_data_dir(settings.data_dir)
    check_certificate(settings)
    check_ports(settings)
