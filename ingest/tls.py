"""TLS and mutual TLS for both listeners, from PEM files.

``--tls-cert`` and ``--tls-key`` make both listeners speak TLS only. ``--tls-client-ca`` also
requires every client to present a certificate signed by that CA (mutual TLS); a client without
one fails the handshake and never reaches the receiver.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

# TLS 1.0 and 1.1 are deprecated (RFC 8996); every OTLP exporter speaks 1.2 or newer.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


class TlsError(Exception):
    """The certificate, key or client CA file cannot be used; the listeners do not start."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths of the PEM files: server certificate (chain), its private key, optional client CA."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate."""
        return self.client_ca is not None


@dataclass(frozen=True, slots=True)
class ServerTls:
    """Loaded and checked TLS material, ready for both listeners."""

    files: TlsFiles
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes | None

    def ssl_context(self) -> ssl.SSLContext:
        """A server context for the HTTP listener."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = MINIMUM_VERSION
        context.load_cert_chain(self.files.cert, self.files.key)
        if self.files.client_ca is not None:
            context.load_verify_locations(cafile=str(self.files.client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Server credentials for the gRPC listener."""
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.client_ca_pem,
            require_client_auth=self.client_ca_pem is not None,
        )


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise TlsError(f"the {what} {path} is not a PEM file")
    return data


def load(files: TlsFiles) -> ServerTls:
    """Read the files and check them as the HTTP listener will use them.

    Raises :class:`TlsError` with a one-line reason: a missing file, a key that does not match the
    certificate, a CA file without certificates.
    """
    files = TlsFiles(
        files.cert.expanduser(),
        files.key.expanduser(),
        files.client_ca.expanduser() if files.client_ca is not None else None,
    )
    cert = _read(files.cert, "TLS certificate")
    key = _read(files.key, "TLS key")
    client_ca = _read(files.client_ca, "client CA") if files.client_ca is not None else None
    tls = ServerTls(files, cert, key, client_ca)
    try:
        tls.ssl_context()
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise TlsError(
            f"cannot use the TLS files ({reason}): check --tls-cert, --tls-key and --tls-client-ca"
        ) from None
    return tls
