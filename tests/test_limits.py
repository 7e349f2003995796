"""Per-item limits: attribute count and value length, enforced on real requests, visibly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import query, start_runtime
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from otlp_clients import grpc_export, http_request, recorded

from otelwatch.ingest import otlp_proto
from otelwatch.ingest.limits import (
    DROPPED_ATTRIBUTES,
    DROPPED_EVENTS,
    TRUNCATED,
    Limits,
    enforce,
)
from otelwatch.ingest.otlp_json_encode import encode as encode_json
from otelwatch.runtime import Runtime

LIMITS = Limits(max_attributes=10, max_value_chars=100)


@pytest.fixture
def limited(db_path: Path) -> Iterator[Runtime]:
    rt = start_runtime(db_path, limits=LIMITS)
    yield rt
    rt.stop()


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.append(_kv("service.name", "svc"))
    resource.resource.attributes.extend(_kv(f"r{i}", i) for i in range(30))
    span = resource.scope_spans.add().spans.add()
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    span.name = "N" * 150
    span.status.message = "m" * 120
    span.attributes.append(_kv("session.id", "s-1"))
    span.attributes.append(_kv("prompt", "p" * 500))
    span.attributes.extend(_kv(f"a{i}", i) for i in range(20))
    nested = AnyValue()
    nested.array_value.values.extend(AnyValue(string_value="x" * 30) for _ in range(5))
    span.attributes.append(KeyValue(key="list", value=nested))
    for i in range(12):
        event = span.events.add()
        event.name = f"event {i}"
        event.attributes.append(_kv("output", "o" * 200))
    return request


def _send(runtime: Runtime, transport: str, signal: str, request: object) -> None:
    assert runtime.grpc_address and runtime.http_address
    if transport == "grpc":
        body = request.SerializeToString()  # type: ignore[attr-defined]
        assert grpc_export(runtime.grpc_address, signal, body).code == grpc.StatusCode.OK
    else:
        reply = http_request(
            runtime.http_address,
            f"/v1/{signal}",
            encode_json(request),  # type: ignore[arg-type]
            {"Content-Type": "application/json"},
        )
        assert reply.status == 200, reply


@pytest.mark.parametrize("transport", ["grpc", "http-json"])
def test_spans_over_the_limits_are_cut_and_say_so(limited: Runtime, transport: str) -> None:
    _send(limited, transport, "traces", _span_request())
    name, status, attributes_text, events_text = query(
        limited, "SELECT name, status_message, attributes, events FROM spans"
    )[0]
    attributes = json.loads(str(attributes_text))
    assert name == "N" * 100
    assert status == "m" * 100
    # The first ten attributes kept, in the order sent; the rest counted.
    kept = [k for k in attributes if not k.startswith("otelwatch.")]
    assert kept == ["session.id", "prompt", *(f"a{i}" for i in range(8))]
    assert attributes[DROPPED_ATTRIBUTES] == 13
    assert attributes["prompt"] == "p" * 100
    assert attributes[TRUNCATED] == ["name", "status_message", "prompt"]
    assert attributes[DROPPED_EVENTS] == 2
    events = json.loads(str(events_text))
    assert len(events) == 10
    assert events[0]["attributes"]["output"] == "o" * 100
    assert events[0]["attributes"][TRUNCATED] == ["output"]
    # Promoted columns still come from the whole original.
    assert query(limited, "SELECT session_id FROM spans") == [("s-1",)]
    resource = json.loads(str(query(limited, "SELECT attributes FROM resources")[0][0]))
    assert resource[DROPPED_ATTRIBUTES] == 21


@pytest.mark.parametrize("transport", ["grpc", "http-json"])
def test_log_bodies_and_metric_attributes_are_limited_too(limited: Runtime, transport: str) -> None:
    logs = ExportLogsServiceRequest()
    record = logs.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = 1_700_000_000_000_000_000
    record.body.string_value = "b" * 300
    record.attributes.append(_kv("event.name", "api_request"))
    record.attributes.append(_kv("error", "e" * 101))
    _send(limited, transport, "logs", logs)
    body, attributes = query(limited, "SELECT body, attributes FROM log_events")[0]
    assert body == "b" * 100
    assert json.loads(str(attributes))[TRUNCATED] == ["body", "error"]
    assert query(limited, "SELECT event_name FROM log_events") == [("api_request",)]

    metrics = ExportMetricsServiceRequest()
    metric = metrics.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "m"
    point = metric.gauge.data_points.add()
    point.as_double = 1.5
    point.time_unix_nano = 1_700_000_000_000_000_000
    point.attributes.extend(_kv(f"k{i}", "v") for i in range(15))
    _send(limited, transport, "metrics", metrics)
    (attributes,) = query(limited, "SELECT attributes FROM metric_points")[0]
    assert json.loads(str(attributes))[DROPPED_ATTRIBUTES] == 5


def test_claude_code_telemetry_passes_the_default_limits_untouched() -> None:
    for r in recorded("grpc"):
        decode = {
            "traces": otlp_proto.decode_traces,
            "logs": otlp_proto.decode_logs,
            "metrics": otlp_proto.decode_metrics,
        }[r.signal]
        batch = decode(r.body, 1)
        before = (list(batch.spans), list(batch.log_events), list(batch.metric_points))
        enforce(batch, Limits())
        assert (batch.spans, batch.log_events, batch.metric_points) == before
        for row in batch.spans:
            assert row[19] is before[0][batch.spans.index(row)][19]  # not even re-encoded


def test_a_60kb_claude_code_prompt_is_kept_whole_by_default(runtime: Runtime) -> None:
    # Claude Code cuts content at 61,440 UTF-16 units itself; the default limit lets that pass.
    logs = ExportLogsServiceRequest()
    record = logs.resource_logs.add().scope_logs.add().log_records.add()
    record.attributes.append(_kv("event.name", "user_prompt"))
    record.attributes.append(_kv("prompt", "é" * 61_440))
    _send(runtime, "grpc", "logs", logs)
    attributes = json.loads(str(query(runtime, "SELECT attributes FROM log_events")[0][0]))
    assert attributes["prompt"] == "é" * 61_440
    assert TRUNCATED not in attributes


def test_limits_from_the_command_line(tmp_path: Path) -> None:
    from otelwatch.cli import build_parser
    from otelwatch.commands.common import settings_from

    args = build_parser().parse_args(["--max-attributes", "64", "--max-value-length", "4096"])
    limits = settings_from(args).limits
    assert (limits.max_attributes, limits.max_value_chars) == (64, 4096)
    default = settings_from(build_parser().parse_args([])).limits
    assert (default.max_attributes, default.max_value_chars) == (256, 65_536)
    rt = start_runtime(tmp_path / "l.duckdb", limits=limits)
    rt.stop()
