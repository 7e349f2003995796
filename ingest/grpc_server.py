"""OTLP/gRPC listener: the Trace, Metrics and Logs services' ``Export`` methods.

Requests arrive as raw bytes (no deserializer is registered) so that decoding, and the mapping of
every failure to a status, is the receiver's, exactly as for HTTP. gRPC itself decompresses gzip
and enforces the size limit, both on the wire and after decompression.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

from otelwatch.ingest.auth import BearerAuth
from otelwatch.ingest.errors import BindError, DecodeError
from otelwatch.ingest.limits import InFlight, Limits
from otelwatch.ingest.receiver import Receiver
from otelwatch.ingest.rpc_status import status_proto
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.ingest.tls import ServerTls
from otelwatch.store.errors import BatchRejected, StoreFull, StoreUnavailable

log = logging.getLogger(__name__)

SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
}

# Handlers block until their data is committed, so the pool bounds how many requests wait on the
# writer at once; beyond the concurrency cap gRPC answers RESOURCE_EXHAUSTED by itself.
WORKERS = 16
MAX_CONCURRENT_RPCS = 256


Handler = Callable[[bytes, grpc.ServicerContext], bytes]


def _authorization(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str):
            return value
    return None


def _export_handler(
    receiver: Receiver, signal: Signal, auth: BearerAuth | None, in_flight: InFlight
) -> Handler:
    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        if auth is not None and not auth.allows(_authorization(context)):
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")
        if not in_flight.reserve(len(request)):
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "too many large requests at once; retry shortly",
                retry_after_s=1,
            )
        try:
            return receiver.export(signal, Encoding.PROTOBUF, request).response_proto()
        except DecodeError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except BatchRejected as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreFull as exc:
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), exc.retry_after_s)
        except StoreUnavailable as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        finally:
            in_flight.release(len(request))
        raise AssertionError("unreachable")  # abort() raises

    return export


def _abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    retry_after_s: int | None = None,
) -> None:
    if retry_after_s is not None:
        # Without RetryInfo a conforming OTLP exporter treats RESOURCE_EXHAUSTED as permanent.
        details = status_proto(code.value[0], message, retry_after_s)
        context.set_trailing_metadata((("grpc-status-details-bin", details),))
    context.abort(code, message)


def _check_bindable(host: str, port: int, address: str) -> None:
    """Bind the address once from Python, to report a taken port with the system's reason.

    gRPC would only say that binding failed, after printing its own log line on stderr.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BindError(f"cannot listen on {address} (gRPC): {exc.strerror or exc}") from exc


class GrpcListener:
    """A started gRPC server bound to ``host:port``; ``port`` is the one actually bound.

    With ``auth`` every call must carry ``authorization: Bearer <token>`` metadata
    (``UNAUTHENTICATED`` otherwise); with ``tls`` the port speaks TLS only.
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
        in_flight = InFlight(limits.in_flight_bytes)
        handlers = [
            grpc.method_handlers_generic_handler(
                service,
                {
                    "Export": grpc.unary_unary_rpc_method_handler(
                        _export_handler(receiver, signal, auth, in_flight)
                    )
                },
            )
            for signal, service in SERVICES.items()
        ]
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="otelwatch-grpc"),
            handlers=handlers,
            maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
            options=[
                ("grpc.max_receive_message_length", limits.max_request_bytes),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                # gRPC shares ports by default: a second otelwatch would silently split traffic
                # with the first instead of being told the port is taken.
                ("grpc.so_reuseport", 0),
            ],
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if port:
            _check_bindable(host, port, address)
        try:
            if tls is not None:
                self.port = self._server.add_secure_port(address, tls.grpc_credentials())
            else:
                self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise BindError(
                f"cannot listen on {address} (gRPC): address in use or unavailable"
            ) from exc
        if not self.port:
            raise BindError(f"cannot listen on {address} (gRPC): address in use or unavailable")
        self.host = host

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls and let the running ones finish (up to ``grace`` seconds)."""
        self._server.stop(grace).wait()
