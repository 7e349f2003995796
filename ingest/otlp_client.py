"""A minimal OTLP client that sends whole export requests as they are: ``otelwatch replay``.

gRPC sends protobuf to ``…Service/Export``; HTTP posts the OTLP/JSON text to ``/v1/<signal>``.
Both read the response's partial success, and retry what the OTLP specification calls
retryable (gRPC ``UNAVAILABLE``/``RESOURCE_EXHAUSTED``…, HTTP 429/502/503/504), honouring the
server's ``Retry-After`` or ``RetryInfo`` hint within a bound.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.record import Record, to_protobuf
from otelwatch.ingest.signals import Signal

GRPC_METHODS = {
    Signal.TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    Signal.METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    Signal.LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_RESPONSES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
}
_REJECTED_FIELDS = {
    Signal.TRACES: "rejected_spans",
    Signal.METRICS: "rejected_data_points",
    Signal.LOGS: "rejected_log_records",
}
_RETRYABLE_GRPC = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.DATA_LOSS,
}
_RETRYABLE_HTTP = {429, 502, 503, 504}
DEFAULT_PORTS = {"grpc": 4317, "grpcs": 4317, "http": 4318, "https": 4318}
RETRIES = 4
MAX_BACKOFF_S = 10.0
TIMEOUT_S = 30.0


class TargetError(ValueError):
    """A ``--to`` address that cannot be used."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the receiver said to one request after any retries."""

    ok: bool
    rejected: int = 0
    message: str = ""
    attempts: int = 1


class Sender(Protocol):
    """Sends one recorded request."""

    def send(self, record: Record) -> Outcome: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Try:
    ok: bool
    rejected: int = 0
    message: str = ""
    retry_after_s: float | None = None  # set when retryable


def _with_retries(attempt: Callable[[], _Try], retries: int) -> Outcome:
    backoff = 0.5
    for n in range(1, retries + 2):
        result = attempt()
        if result.ok or result.retry_after_s is None or n == retries + 1:
            return Outcome(result.ok, result.rejected, result.message, n)
        time.sleep(min(MAX_BACKOFF_S, max(result.retry_after_s, backoff)))
        backoff *= 2
    raise AssertionError("unreachable")


class GrpcSender:
    """OTLP/gRPC: protobuf over one channel."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        ca: bytes | None,
        token: str | None,
        retries: int = RETRIES,
    ) -> None:
        self.retries = retries
        target = f"{host}:{port}"
        options = [("grpc.max_send_message_length", 256 * 1024 * 1024)]
        if tls:
            creds = grpc.ssl_channel_credentials(root_certificates=ca)
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._calls = {
            signal: self._channel.unary_unary(
                method, request_serializer=None, response_deserializer=None
            )
            for signal, method in GRPC_METHODS.items()
        }

    def send(self, record: Record) -> Outcome:
        try:
            body = to_protobuf(record)
        except DecodeError as exc:
            return Outcome(False, message=str(exc))

        def attempt() -> _Try:
            try:
                answer = self._calls[record.signal](
                    body, timeout=TIMEOUT_S, metadata=self._metadata
                )
            except grpc.RpcError as exc:
                code = exc.code()
                text = f"{code.name}: {exc.details() or ''}".strip()
                retry = 1.0 if code in _RETRYABLE_GRPC else None
                return _Try(False, message=text, retry_after_s=retry)
            return _partial(record.signal, answer)

        return _with_retries(attempt, self.retries)

    def close(self) -> None:
        self._channel.close()


def _partial(signal: Signal, answer: bytes) -> _Try:
    response = _RESPONSES[signal]()
    try:
        response.ParseFromString(answer)
    except Exception:
        return _Try(True)
    partial = response.partial_success  # type: ignore[attr-defined]
    rejected = int(getattr(partial, _REJECTED_FIELDS[signal]))
    return _Try(True, rejected, str(partial.error_message))


class HttpSender:
    """OTLP/HTTP: the OTLP/JSON text posted to ``/v1/<signal>`` on one kept-alive connection."""

    def __init__(
        self,
        host: str,
        port: int,
        prefix: str,
        *,
        tls: bool,
        ca: bytes | None,
        token: str | None,
        retries: int = RETRIES,
    ) -> None:
        self.retries = retries
        self._host, self._port, self._prefix = host, port, prefix.rstrip("/")
        self._context: ssl.SSLContext | None = None
        if tls:
            self._context = ssl.create_default_context(cadata=ca.decode() if ca else None)
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._context is not None:
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=TIMEOUT_S, context=self._context
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
        return self._conn

    def send(self, record: Record) -> Outcome:
        path = f"{self._prefix}/v1/{record.signal.value}"

        def attempt() -> _Try:
            conn = self._connection()
            try:
                conn.request("POST", path, body=record.body, headers=self._headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()  # a fresh connection for the next attempt
                return _Try(False, message=f"{type(exc).__name__}: {exc}", retry_after_s=1.0)
            if response.status == 200:
                return _json_partial(record.signal, body)
            retry = None
            if response.status in _RETRYABLE_HTTP:
                retry = _retry_after(response.getheader("Retry-After"))
            return _Try(
                False, message=f"HTTP {response.status}: {_status_text(body)}", retry_after_s=retry
            )

        return _with_retries(attempt, self.retries)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def _status_text(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(document, dict) and "message" in document:
        return str(document["message"])
    return body[:200].decode("utf-8", "replace").strip()


def _json_partial(signal: Signal, body: bytes) -> _Try:
    try:
        document = json.loads(body) if body.strip() else {}
    except ValueError:
        return _Try(True)  # a protobuf or empty success: nothing was refused
    partial = document.get("partialSuccess") if isinstance(document, dict) else None
    if not isinstance(partial, dict):
        return _Try(True)
    field = {
        Signal.TRACES: "rejectedSpans",
        Signal.METRICS: "rejectedDataPoints",
        Signal.LOGS: "rejectedLogRecords",
    }[signal]
    try:
        rejected = int(partial.get(field) or 0)
    except (TypeError, ValueError):
        rejected = 0
    return _Try(True, rejected, str(partial.get("errorMessage") or ""))


def sender_for(
    target: str,
    *,
    token: str | None = None,
    ca_file: Path | None = None,
    retries: int = RETRIES,
) -> Sender:
    """A sender for ``grpc://``, ``grpcs://``, ``http://`` or ``https://HOST:PORT[/prefix]``.

    Raises :class:`TargetError` with a one-line reason for an unusable address.
    """
    parts = urlsplit(target if "://" in target else f"grpc://{target}")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetError(
            f"unsupported scheme {scheme!r} in {target!r}: use grpc://, grpcs://, http:// or https://"
        )
    if not parts.hostname:
        raise TargetError(f"no host in {target!r}")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise TargetError(f"bad port in {target!r}") from None
    ca = None
    if ca_file is not None:
        try:
            ca = ca_file.read_bytes()
        except OSError as exc:
            raise TargetError(f"cannot read {ca_file}: {exc.strerror}") from None
    tls = scheme in ("grpcs", "https")
    if scheme.startswith("grpc"):
        if parts.path not in ("", "/"):
            raise TargetError(f"a gRPC address has no path: {target!r}")
        return GrpcSender(parts.hostname, port, tls=tls, ca=ca, token=token, retries=retries)
    return HttpSender(
        parts.hostname, port, parts.path, tls=tls, ca=ca, token=token, retries=retries
    )
