"""Backpressure: more load than the writer takes is refused with retryable statuses, never a
time-out, and the OpenTelemetry SDK's own exporters, retrying, get everything stored once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import query, start_runtime
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlp_clients import grpc_export, http_request

from otelwatch.ingest.rpc_status import RETRY_INFO_TYPE
from otelwatch.runtime import Runtime

SPANS_PER_REQUEST = 500
# Room for one request waiting while another is written: most requests must wait or retry.
QUEUE = 600
EXPORTERS, BATCHES = 16, 5


@pytest.fixture
def narrow(db_path: Path) -> Iterator[Runtime]:
    rt = start_runtime(db_path, max_queued_items=QUEUE)
    yield rt
    rt.stop()


def _request(batch: int) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(SPANS_PER_REQUEST):
        span = scope.spans.add()
        span.trace_id = batch.to_bytes(16, "big")
        span.span_id = (batch * 100_000 + i + 1).to_bytes(8, "big")
        span.name = "load"
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        span.end_time_unix_nano = 1_700_000_000_100_000_000 + i
        kv = span.attributes.add()
        kv.key, kv.value.string_value = "session.id", f"s-{batch % 7}"
    return request.SerializeToString()


def _raw_sender(runtime: Runtime, sender: int, statuses: Counter[str], acked: list[int]) -> None:
    assert runtime.grpc_address and runtime.http_address
    for n in range(12):
        batch = sender * 1000 + n + 1
        body = _request(batch)
        if sender % 2:
            answer = grpc_export(runtime.grpc_address, "traces", body, timeout=60)
            status = answer.code.name
            if answer.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                # Retryable only with RetryInfo in the status details (OTLP spec).
                details = dict(answer.trailing).get("grpc-status-details-bin", b"")
                assert RETRY_INFO_TYPE.encode() in details  # type: ignore[operator]
        else:
            reply = http_request(
                runtime.http_address,
                "/v1/traces",
                body,
                {"Content-Type": "application/x-protobuf"},
                timeout=60,
            )
            status = f"HTTP {reply.status}"
            if reply.status == 429:
                assert int(reply.headers["retry-after"]) >= 1
        statuses[status] += 1
        if status in ("OK", "HTTP 200"):
            acked.append(batch)


@pytest.mark.slow
def test_overload_is_refused_with_retryable_statuses_never_timeouts(narrow: Runtime) -> None:
    statuses: Counter[str] = Counter()
    acked: list[int] = []
    senders = [
        threading.Thread(target=_raw_sender, args=(narrow, k, statuses, acked)) for k in range(12)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join(120)
    assert sum(statuses.values()) == 12 * 12
    # Every answer is a success or a fast, retryable refusal: no time-outs, no other errors.
    assert set(statuses) <= {"OK", "HTTP 200", "RESOURCE_EXHAUSTED", "HTTP 429"}, statuses
    assert statuses["RESOURCE_EXHAUSTED"] + statuses["HTTP 429"] > 0, "never overloaded"
    stored = query(narrow, "SELECT trace_id, count(*) FROM spans GROUP BY 1")
    assert {int(str(t), 16) for t, _ in stored} == set(acked)
    assert {n for _, n in stored} == {SPANS_PER_REQUEST}


def _spans(count: int, name: str) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("otelwatch.tests")
    for i in range(count):
        tracer.start_span(f"{name} {i}").end()
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.slow
def test_sdk_exporters_retries_store_everything(narrow: Runtime) -> None:
    exporters: list[Callable[[], Any]] = []
    for k in range(EXPORTERS):
        if k % 2:
            exporters.append(
                lambda: GrpcSpans(
                    endpoint=f"http://{narrow.grpc_address}", insecure=True, timeout=60
                )
            )
        else:
            exporters.append(
                lambda: HttpSpans(endpoint=f"http://{narrow.http_address}/v1/traces", timeout=60)
            )
    batches = {
        k: [_spans(SPANS_PER_REQUEST, f"e{k}b{b}") for b in range(BATCHES)]
        for k in range(EXPORTERS)
    }
    results: dict[int, list[SpanExportResult]] = {}

    def run(k: int) -> None:
        exporter = exporters[k]()
        results[k] = [exporter.export(batch) for batch in batches[k]]
        exporter.shutdown()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(EXPORTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert narrow.receiver is not None
    refused = narrow.receiver.stats().failed_requests
    assert refused > 0, "the writer was never overloaded: the test proves nothing"
    assert all(r == SpanExportResult.SUCCESS for rs in results.values() for r in rs), results
    total = EXPORTERS * BATCHES * SPANS_PER_REQUEST
    assert query(narrow, "SELECT count(*), count(DISTINCT span_id) FROM spans") == [(total, total)]


def _trace_body(size: int) -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "padded"
    kv = span.attributes.add()
    kv.key, kv.value.string_value = "pad", "x" * (size - 60)
    return request.SerializeToString()


def test_large_bodies_held_at_once_are_bounded_and_refused_retryably(
    small_runtime: Runtime,
) -> None:
    # 64 KiB requests: the HTTP listener holds at most 4 x 64 KiB of bodies at once. Four
    # clients that send their headers and then stall fill it; the fifth is refused at once with a
    # retryable 429 instead of being read into memory, and is served when one stall ends.
    import socket

    assert small_runtime.http_address
    host, port = small_runtime.http_address.rsplit(":", 1)
    body = _trace_body(60_000)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    stalled = []
    try:
        for _ in range(4):
            client = socket.create_connection((host, int(port)), timeout=10)
            client.sendall(head + body[:1000])
            stalled.append(client)
        # Give the listener time to read the four headers and hold their budget.
        import time

        deadline = time.monotonic() + 10
        refused = None
        while time.monotonic() < deadline:
            reply = http_request(
                small_runtime.http_address,
                "/v1/traces",
                body,
                {"Content-Type": "application/x-protobuf"},
                timeout=10,
            )
            if reply.status == 429:
                refused = reply
                break
            time.sleep(0.05)
        assert refused is not None, "a fifth large body was accepted while four were held"
        assert refused.headers["retry-after"] == "1"
    finally:
        for client in stalled:
            client.close()
    deadline = time.monotonic() + 10
    status = 0
    while status != 200 and time.monotonic() < deadline:
        status = http_request(
            small_runtime.http_address,
            "/v1/traces",
            body,
            {"Content-Type": "application/x-protobuf"},
            timeout=10,
        ).status
        time.sleep(0.05)
    assert status == 200
