"""Test helpers: raw OTLP clients over real sockets, and the recorded Claude Code requests."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path

import grpc

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"

GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
CONTENT_TYPES = {"http-protobuf": "application/x-protobuf", "http-json": "application/json"}


@dataclass(frozen=True)
class Recorded:
    """One recorded Claude Code request."""

    signal: str
    body: bytes
    transport: str  # grpc | http-protobuf | http-json


def recorded(transport: str) -> list[Recorded]:
    """The recorded requests of one transport, in arrival order."""
    out = []
    for line in (FIXTURES / transport / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        out.append(
            Recorded(
                entry["signal"], (FIXTURES / transport / entry["file"]).read_bytes(), transport
            )
        )
    return out


@dataclass(frozen=True)
class GrpcAnswer:
    code: grpc.StatusCode
    details: str
    response: bytes
    trailing: tuple[tuple[str, str | bytes], ...]


def grpc_export(
    address: str,
    signal: str,
    body: bytes,
    *,
    compression: grpc.Compression | None = None,
    metadata: tuple[tuple[str, str], ...] | None = None,
    timeout: float = 10.0,
) -> GrpcAnswer:
    """Send raw bytes to a gRPC Export method and return the status, whatever it is."""
    with grpc.insecure_channel(
        address, options=[("grpc.max_send_message_length", 256 * 1024 * 1024)]
    ) as channel:
        call = channel.unary_unary(GRPC_METHODS[signal])
        try:
            response, rpc = call.with_call(
                body, timeout=timeout, compression=compression, metadata=metadata
            )
            return GrpcAnswer(
                grpc.StatusCode.OK, "", response, tuple(rpc.trailing_metadata() or ())
            )
        except grpc.RpcError as exc:
            return GrpcAnswer(
                exc.code(), exc.details() or "", b"", tuple(exc.trailing_metadata() or ())
            )


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def http_request(
    address: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    timeout: float = 10.0,
) -> HttpAnswer:
    """One HTTP request on a fresh connection."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return HttpAnswer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def send_recorded(address_grpc: str, address_http: str, request: Recorded) -> None:
    """Send one recorded request over its own transport and require success."""
    if request.transport == "grpc":
        answer = grpc_export(address_grpc, request.signal, request.body)
        assert answer.code == grpc.StatusCode.OK, answer
    else:
        reply = http_request(
            address_http,
            f"/v1/{request.signal}",
            request.body,
            {"Content-Type": CONTENT_TYPES[request.transport]},
        )
        assert reply.status == 200, reply
