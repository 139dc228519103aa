"""The HTTPS listener's certificate: the operator's pair, or a self-signed one made once in the data dir."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.config import Settings

logger = logging.getLogger(__name__)

CERT_NAME = "tls-cert.pem"
KEY_NAME = "tls-key.pem"


def certificate_paths(settings: Settings) -> tuple[Path, Path]:
    """The (certfile, keyfile) to serve, generating a self-signed pair on first start when none is configured."""
    if settings.server.certfile is not None and settings.server.keyfile is not None:
        return settings.server.certfile, settings.server.keyfile
    directory = settings.data_dir
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if not (cert_path.is_file() and key_path.is_file()):
        directory.mkdir(parents=True, exist_ok=True)
        _write_self_signed(cert_path, key_path)
        logger.info("generated a self-signed certificate", extra={"certfile": str(cert_path)})
    return cert_path, key_path


def _write_self_signed(cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    hostname = socket.gethostname()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname or "adhoc-bridge")])
    alt_names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    if hostname and hostname != "localhost":
        alt_names.insert(0, x509.DNSName(hostname))
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Write the key 0600 from the first byte, then move both into place.
    tmp_key = key_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    os.chmod(tmp_key, 0o600)
    tmp_cert = cert_path.with_suffix(".tmp")
    tmp_cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """TLS 1.2 at the least; no compression or renegotiation."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context
