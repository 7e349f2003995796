"""OTLP/HTTP listener: ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs``.

Bodies are ``application/x-protobuf`` or ``application/json``, optionally gzip-compressed. The
reply is the ``Export*ServiceResponse`` in the request's encoding; errors carry a
``google.rpc.Status`` body, as the OTLP specification asks.

Every way a request can be wrong has its own answer: 400 malformed, 401 no valid bearer token
(when one is required), 404 unknown path, 405 wrong method, 411 no length, 413 too large
(compressed or not), 415 unsupported content type or encoding, 429 queue full (with
``Retry-After``), 503 cannot commit now.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from otelwatch.ingest.auth import CHALLENGE, BearerAuth
from otelwatch.ingest.errors import BindError, DecodeError, PayloadTooLarge
from otelwatch.ingest.limits import InFlight, Limits
from otelwatch.ingest.receiver import Receiver
from otelwatch.ingest.rpc_status import status_json, status_proto
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.ingest.tls import ServerTls
from otelwatch.store.errors import BatchRejected, StoreFull, StoreUnavailable

log = logging.getLogger(__name__)

PATHS = {f"/v1/{signal.value}": signal for signal in Signal}
CONTENT_TYPES = {
    "application/x-protobuf": Encoding.PROTOBUF,
    "application/protobuf": Encoding.PROTOBUF,
    "application/json": Encoding.JSON,
}
# gRPC status codes used in the Status bodies.
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _UNAVAILABLE, _UNIMPLEMENTED = 3, 8, 14, 12
_UNAUTHENTICATED = 16
# A connection idle this long is closed, so a client that stalls mid-request cannot hold a thread.
IDLE_TIMEOUT_S = 30.0


class _Refusal(Exception):
    def __init__(
        self, status: HTTPStatus, message: str, *, close: bool = False, headers: Any = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than ``limit`` bytes of output."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"the gzip body is corrupt: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body is over the limit of {limit} bytes")
    if not inflater.eof:
        raise DecodeError("the gzip body is truncated")
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otelwatch"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: _Server

    # ------------------------------------------------------------------ routing

    def do_POST(self) -> None:
        encoding = Encoding.JSON
        self._held = 0
        try:
            self._authenticate()
            signal = self._signal()
            encoding = self._encoding()
            body = self._body()
            result = self.server.receiver.export(signal, encoding, body)
        except _Refusal as refusal:
            self._refuse(refusal, encoding)
            return
        except DecodeError as exc:
            self._refuse(_Refusal(HTTPStatus.BAD_REQUEST, str(exc)), encoding)
            return
        except BatchRejected as exc:
            self._refuse(_Refusal(HTTPStatus.BAD_REQUEST, str(exc)), encoding)
            return
        except PayloadTooLarge as exc:
            self._refuse(_Refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc)), encoding)
            return
        except StoreFull as exc:
            retry = (("Retry-After", str(exc.retry_after_s)),)
            self._refuse(_Refusal(HTTPStatus.TOO_MANY_REQUESTS, str(exc), headers=retry), encoding)
            return
        except StoreUnavailable as exc:
            retry = (("Retry-After", "5"),)
            self._refuse(
                _Refusal(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), headers=retry), encoding
            )
            return
        finally:
            if self._held:
                self.server.in_flight.release(self._held)
                self._held = 0
        if encoding is Encoding.JSON:
            self._send(HTTPStatus.OK, "application/json", result.response_json())
        else:
            self._send(HTTPStatus.OK, "application/x-protobuf", result.response_proto())

    def _other_method(self) -> None:
        try:
            self._authenticate()
        except _Refusal as unauthenticated:
            self._refuse(unauthenticated, Encoding.JSON)
            return
        path = urlsplit(self.path).path
        if path in PATHS:
            refusal = _Refusal(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command} is not allowed on {path}; use POST",
                headers=(("Allow", "POST"),),
            )
        else:
            refusal = _Refusal(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        self._drain_unread_body()
        self._refuse(refusal, Encoding.JSON)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other_method

    # ------------------------------------------------------------------ request parts

    def _authenticate(self) -> None:
        """Refuse before reading (or decompressing) the body of a request without the token."""
        auth = self.server.auth
        if auth is not None and not auth.allows(self.headers.get("Authorization")):
            self._drain_unread_body()
            raise _Refusal(
                HTTPStatus.UNAUTHORIZED,
                "a valid bearer token is required",
                headers=(("WWW-Authenticate", CHALLENGE),),
            )

    def _signal(self) -> Signal:
        path = urlsplit(self.path).path
        signal = PATHS.get(path)
        if signal is None:
            self._drain_unread_body()
            raise _Refusal(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        return signal

    def _encoding(self) -> Encoding:
        content_type = self.headers.get_content_type()
        encoding = CONTENT_TYPES.get(content_type)
        if encoding is None:
            self._drain_unread_body()
            raise _Refusal(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"unsupported content type {content_type!r}; "
                "use application/x-protobuf or application/json",
            )
        return encoding

    def _body(self) -> bytes:
        limit = self.server.limits.max_request_bytes
        content_encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if content_encoding not in ("identity", "gzip"):
            self._drain_unread_body()
            raise _Refusal(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"unsupported content encoding {content_encoding!r}; use gzip or none",
            )
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        declared = self.headers.get("Content-Length", "")
        size = limit if chunked or not declared.isdigit() else min(int(declared), limit)
        gzipped = content_encoding == "gzip"
        # Held until the answer is sent: the body, its decompressed form and its rows.
        self._hold(size + (limit if gzipped else 0))
        raw = self._read_chunked(limit) if chunked else self._read_sized(limit)
        if gzipped:
            out = gunzip(raw, limit)
            self._settle(len(raw) + len(out))
            return out
        self._settle(len(raw))
        return raw

    def _hold(self, size: int) -> None:
        if not self.server.in_flight.reserve(size):
            self._drain_unread_body()
            raise _Refusal(
                HTTPStatus.TOO_MANY_REQUESTS,
                "too many large requests at once; retry shortly",
                headers=(("Retry-After", "1"),),
            )
        self._held = size

    def _settle(self, size: int) -> None:
        """Keep only ``size`` bytes of what was held for a body of unknown size."""
        if size < self._held:
            self.server.in_flight.release(self._held - size)
            self._held = size

    def _read_sized(self, limit: int) -> bytes:
        header = self.headers.get("Content-Length")
        if header is None:
            raise _Refusal(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required", close=True)
        try:
            length = int(header)
        except ValueError:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, "Content-Length is not a number", close=True
            ) from None
        if length < 0:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "Content-Length is negative", close=True)
        if length > limit:
            # The body is not read, so the connection cannot be reused.
            raise _Refusal(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body ({length} bytes) is over the limit of {limit} bytes",
                close=True,
            )
        body = self.rfile.read(length)
        if len(body) < length:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "the body ended early", close=True)
        return body

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(66)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Refusal(
                    HTTPStatus.BAD_REQUEST, "malformed chunked body", close=True
                ) from None
            if size == 0:
                # Trailers, if any, end with an empty line.
                while self.rfile.readline(8192).strip():
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise _Refusal(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the body is over the limit of {limit} bytes",
                    close=True,
                )
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3).strip():
                raise _Refusal(HTTPStatus.BAD_REQUEST, "malformed chunked body", close=True)
            parts.append(chunk)

    def _drain_unread_body(self) -> None:
        """Consume a small body we will not use, so the connection stays usable."""
        header = self.headers.get("Content-Length")
        length = int(header) if header and header.isdigit() else 0
        if 0 < length <= 1024 * 1024:
            self.rfile.read(length)
        elif length or self.headers.get("Transfer-Encoding"):
            self.close_connection = True

    # ------------------------------------------------------------------ answers

    def _refuse(self, refusal: _Refusal, encoding: Encoding) -> None:
        code = {
            HTTPStatus.TOO_MANY_REQUESTS: _RESOURCE_EXHAUSTED,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE: _RESOURCE_EXHAUSTED,
            HTTPStatus.SERVICE_UNAVAILABLE: _UNAVAILABLE,
            HTTPStatus.NOT_FOUND: _UNIMPLEMENTED,
            HTTPStatus.METHOD_NOT_ALLOWED: _UNIMPLEMENTED,
            HTTPStatus.UNAUTHORIZED: _UNAUTHENTICATED,
        }.get(refusal.status, _INVALID_ARGUMENT)
        if refusal.close:
            self.close_connection = True
        if encoding is Encoding.PROTOBUF:
            body, content_type = status_proto(code, refusal.message), "application/x-protobuf"
        else:
            body, content_type = status_json(code, refusal.message), "application/json"
        self._send(refusal.status, content_type, body, refusal.headers)

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_expect_100(self) -> bool:
        # Refuse an oversize body before the client sends it.
        header = self.headers.get("Content-Length")
        if header and header.isdigit() and int(header) > self.server.limits.max_request_bytes:
            self.close_connection = True
            self._refuse(
                _Refusal(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the body ({header} bytes) is over the limit of "
                    f"{self.server.limits.max_request_bytes} bytes",
                    close=True,
                ),
                Encoding.JSON,
            )
            return False
        return super().handle_expect_100()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart at once after a stop; two listeners still conflict

    def __init__(
        self,
        address: tuple[str, int],
        receiver: Receiver,
        limits: Limits,
        auth: BearerAuth | None,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.receiver = receiver
        self.limits = limits
        self.auth = auth
        self.tls = tls
        self.in_flight = InFlight(limits.in_flight_bytes)
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs here, on the connection's own thread, not in accept(): a client
        # that stalls mid-handshake then holds one thread until the time-out, never the listener.
        request.settimeout(IDLE_TIMEOUT_S)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            self.shutdown_request(secure)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is normal; anything else is logged, never printed.
        log.debug("error serving %s", client_address, exc_info=True)


class HttpListener:
    """A started OTLP/HTTP server bound to ``host:port``; ``port`` is the one actually bound.

    With ``auth`` every request must carry ``Authorization: Bearer <token>`` (401 with
    ``WWW-Authenticate`` otherwise); with ``tls`` the port speaks HTTPS only.
    """

    def __init__(
        self,
        receiver: Receiver,
        host: str,
        port: int,
        limits: Limits,
        *,
        auth: BearerAuth | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        context = tls.ssl_context() if tls is not None else None
        try:
            self._server = _Server((host, port), receiver, limits, auth, context)
        except OSError as exc:
            raise BindError(
                f"cannot listen on {host}:{port} (HTTP): {exc.strerror or exc}"
            ) from exc
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="otelwatch-http",
            daemon=True,
        )

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting connections. Requests in progress are waited for by the receiver."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
