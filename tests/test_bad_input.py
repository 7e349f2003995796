"""Every kind of bad request gets its OTLP-correct answer, and nothing acknowledged is disturbed."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from pathlib import Path

import grpc
import pytest
from conftest import query
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import grpc_export, http_request, recorded, send_recorded

from otelwatch.ingest.http_server import HttpListener
from otelwatch.ingest.limits import Limits
from otelwatch.ingest.receiver import Receiver
from otelwatch.runtime import Runtime
from otelwatch.store import database
from otelwatch.store.writer import Writer

PROTO = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _status_message(body: bytes) -> str:
    """The message of a JSON google.rpc.Status body."""
    return str(json.loads(body)["message"])


def _load_baseline(runtime: Runtime) -> int:
    assert runtime.grpc_address and runtime.http_address
    for request in recorded("grpc"):
        send_recorded(runtime.grpc_address, runtime.http_address, request)
    ((n,),) = query(
        runtime,
        "SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM log_events) "
        "+ (SELECT count(*) FROM metric_points)",
    )
    assert isinstance(n, int)
    return n


def _stored(runtime: Runtime) -> int:
    ((n,),) = query(
        runtime,
        "SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM log_events) "
        "+ (SELECT count(*) FROM metric_points)",
    )
    assert isinstance(n, int)
    return n


def _trace_request(n_spans: int, attribute_bytes: int = 0) -> bytes:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for i in range(n_spans):
        span = spans.spans.add()
        span.trace_id = bytes([1] * 16)
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = "s"
        span.start_time_unix_nano = 1
        span.end_time_unix_nano = 2
        if attribute_bytes:
            kv = span.attributes.add()
            kv.key = "blob"
            kv.value.string_value = "x" * attribute_bytes
    return request.SerializeToString()


# ------------------------------------------------------------------ gRPC


def test_grpc_malformed_is_invalid_argument(runtime: Runtime) -> None:
    before = _load_baseline(runtime)
    assert runtime.grpc_address
    answer = grpc_export(runtime.grpc_address, "traces", b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in answer.details
    assert _stored(runtime) == before
    # The listener still works.
    assert grpc_export(runtime.grpc_address, "traces", _trace_request(2)).code == grpc.StatusCode.OK
    assert _stored(runtime) == before + 2


def test_grpc_oversize_and_gzip_bomb_are_resource_exhausted(small_runtime: Runtime) -> None:
    assert small_runtime.grpc_address
    too_big = _trace_request(1, attribute_bytes=200 * 1024)
    answer = grpc_export(small_runtime.grpc_address, "traces", too_big)
    assert answer.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Small on the wire, far over the limit once decompressed.
    bomb = grpc_export(
        small_runtime.grpc_address, "traces", too_big, compression=grpc.Compression.Gzip
    )
    assert bomb.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _stored(small_runtime) == 0
    ok = grpc_export(small_runtime.grpc_address, "traces", _trace_request(3))
    assert ok.code == grpc.StatusCode.OK
    assert _stored(small_runtime) == 3


def test_grpc_partial_success_for_spans_with_bad_ids(runtime: Runtime) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    good = spans.add(trace_id=bytes([2] * 16), span_id=bytes([3] * 8), name="good")
    assert good
    spans.add(trace_id=bytes([2] * 15), span_id=bytes([4] * 8), name="short trace id")
    spans.add(trace_id=bytes(16), span_id=bytes([5] * 8), name="zero trace id")
    assert runtime.grpc_address
    answer = grpc_export(runtime.grpc_address, "traces", request.SerializeToString())
    assert answer.code == grpc.StatusCode.OK
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse.FromString(answer.response)
    assert response.partial_success.rejected_spans == 2
    assert "malformed" in response.partial_success.error_message
    assert query(runtime, "SELECT name FROM spans") == [("good",)]


# ------------------------------------------------------------------ HTTP


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f garbage", PROTO, 400, "not a valid ExportTraceServiceRequest"),
        (b"{not json", JSON, 400, "not valid JSON"),
        (b'{"resourceSpans": "oops"}', JSON, 400, "resourceSpans must be a list"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{'
            b'"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",'
            b' "startTimeUnixNano": {}}]}]}]}',
            JSON,
            400,
            "startTimeUnixNano must be an integer",
        ),
        (b"[1, 2]", JSON, 400, "must be a JSON object"),
        (b"\xff\xfe{}", JSON, 400, "UTF-8"),
        (b"hello", {"Content-Type": "text/plain"}, 415, "unsupported content type"),
        (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415, "encoding"),
        (b"\x1f\x8b\x08\x00corrupt", {**JSON, "Content-Encoding": "gzip"}, 400, "gzip"),
    ],
)
def test_http_bad_bodies(
    runtime: Runtime, body: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    before = _load_baseline(runtime)
    assert runtime.http_address
    reply = http_request(runtime.http_address, "/v1/traces", body, headers)
    assert reply.status == status
    if reply.headers["content-type"] == "application/json":
        assert fragment in _status_message(reply.body)
    assert _stored(runtime) == before


def test_http_protobuf_errors_carry_a_protobuf_status(runtime: Runtime) -> None:
    assert runtime.http_address
    reply = http_request(runtime.http_address, "/v1/logs", b"\xff\xff\xff", PROTO)
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/x-protobuf"
    assert b"ExportLogsServiceRequest" in reply.body  # the Status message field


def test_http_wrong_method_and_unknown_path(runtime: Runtime) -> None:
    assert runtime.http_address
    reply = http_request(runtime.http_address, "/v1/traces", method="GET")
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"
    reply = http_request(runtime.http_address, "/v1/spans", b"{}", JSON)
    assert reply.status == 404
    reply = http_request(runtime.http_address, "/", method="GET")
    assert reply.status == 404


def test_http_oversize_and_gzip_bomb_are_413(small_runtime: Runtime) -> None:
    assert small_runtime.http_address
    too_big = _trace_request(1, attribute_bytes=200 * 1024)
    reply = http_request(small_runtime.http_address, "/v1/traces", too_big, PROTO)
    assert reply.status == 413
    bomb = gzip.compress(too_big)
    assert len(bomb) < 64 * 1024
    reply = http_request(
        small_runtime.http_address, "/v1/traces", bomb, {**PROTO, "Content-Encoding": "gzip"}
    )
    assert reply.status == 413
    assert "decompressed" in reply.body.decode("utf-8", "replace")
    reply = http_request(
        small_runtime.http_address,
        "/v1/traces",
        gzip.compress(_trace_request(4)),
        {**PROTO, "Content-Encoding": "gzip"},
    )
    assert reply.status == 200
    assert _stored(small_runtime) == 4


def test_http_missing_length_is_411_and_chunked_bodies_work(runtime: Runtime) -> None:
    assert runtime.http_address
    host, port = runtime.http_address.rsplit(":", 1)
    body = _trace_request(2)

    def raw(request: bytes) -> bytes:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    no_length = raw(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n\r\n"
    )
    assert no_length.startswith(b"HTTP/1.1 411")
    chunked = (
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body[:10]):x}\r\n".encode()
        + body[:10]
        + b"\r\n"
        + f"{len(body[10:]):x}\r\n".encode()
        + body[10:]
        + b"\r\n0\r\n\r\n"
    )
    assert raw(chunked).startswith(b"HTTP/1.1 200")
    assert _stored(runtime) == 2


def test_http_partial_success_json(runtime: Runtime) -> None:
    assert runtime.http_address
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "ok",
                            },
                            {"traceId": "not-hex", "spanId": "b7ad6b7169203331", "name": "bad"},
                        ]
                    }
                ]
            }
        ]
    }
    reply = http_request(runtime.http_address, "/v1/traces", json.dumps(body).encode(), JSON)
    assert reply.status == 200
    assert json.loads(reply.body)["partialSuccess"]["rejectedSpans"] == "1"
    assert query(runtime, "SELECT name FROM spans") == [("ok",)]


def test_a_stalled_client_does_not_block_others(runtime: Runtime) -> None:
    assert runtime.http_address
    host, port = runtime.http_address.rsplit(":", 1)
    # Announce a body and never send it.
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Content-Length: 1000\r\n\r\npartial"
    )
    try:
        reply = http_request(runtime.http_address, "/v1/traces", _trace_request(1), PROTO)
        assert reply.status == 200
    finally:
        stalled.close()


# ------------------------------------------------------------------ a full queue


def test_full_queue_refuses_fast_with_retry_after(tmp_path: Path) -> None:
    """With the writer not yet running, the first request waits in the queue and fills it; the
    next is refused at once with 429 and Retry-After, and the first is acknowledged once the
    writer starts."""
    conn = database.connect(tmp_path / "q.duckdb")
    writer = Writer(conn, max_queued_items=3)
    receiver = Receiver(writer)
    listener = HttpListener(receiver, "127.0.0.1", 0, Limits())
    listener.start()
    address = f"127.0.0.1:{listener.port}"
    first: list[int] = []
    sender = threading.Thread(
        target=lambda: first.append(
            http_request(address, "/v1/traces", _trace_request(3), PROTO).status
        )
    )
    try:
        sender.start()
        deadline = time.monotonic() + 5
        while writer.queued_items < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        reply = http_request(address, "/v1/traces", _trace_request(1), PROTO)
        assert reply.status == 429
        assert reply.headers["retry-after"] == "1"
        assert time.monotonic() - started < 5  # refused, not timed out
        assert first == []  # the first is still waiting for its commit
        writer.start()
        sender.join(10)
        assert first == [200]
        assert conn.execute("SELECT count(*) FROM spans").fetchone() == (3,)
    finally:
        listener.stop()
        receiver.close()
        writer.close()
        conn.close()
