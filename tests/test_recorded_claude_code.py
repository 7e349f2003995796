"""The recorded Claude Code requests, sent over their own transport, land exactly."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
from conftest import query
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import recorded, send_recorded

from otelwatch.runtime import Runtime

TRANSPORTS = ["grpc", "http-protobuf", "http-json"]


@dataclass
class Expected:
    """What the recorded payloads hold, read independently of otelwatch's decoders."""

    spans: set[tuple[str, str, str]] = field(default_factory=set)
    events: Counter[str] = field(default_factory=Counter)
    points: int = 0
    event_cost: float = 0.0
    metric_cost: float = 0.0
    event_tokens: Counter[str] = field(default_factory=Counter)
    metric_tokens: Counter[str] = field(default_factory=Counter)


_TOKEN_FIELDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cacheRead",
    "cache_creation_tokens": "cacheCreation",
}


def _value(any_value: dict[str, object]) -> object:
    ((kind, raw),) = any_value.items()
    if kind == "intValue":
        return int(str(raw))
    return raw


def _attrs(pairs: list[dict[str, object]]) -> dict[str, object]:
    return {str(p["key"]): _value(p["value"]) for p in pairs}  # type: ignore[arg-type]


def expected_from(transport: str) -> Expected:
    exp = Expected()
    for request in recorded(transport):
        if transport == "http-json":
            doc = json.loads(request.body)
            hex_id = str
        else:
            message = {
                "traces": ExportTraceServiceRequest,
                "logs": ExportLogsServiceRequest,
                "metrics": ExportMetricsServiceRequest,
            }[request.signal]()
            message.ParseFromString(request.body)
            from google.protobuf.json_format import MessageToDict

            doc = MessageToDict(message)

            def hex_id(value: str) -> str:
                return base64.b64decode(value).hex()

        for rs in doc.get("resourceSpans", []):
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    exp.spans.add((hex_id(span["traceId"]), hex_id(span["spanId"]), span["name"]))
        for rl in doc.get("resourceLogs", []):
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    attrs = _attrs(record["attributes"])
                    exp.events[str(attrs["event.name"])] += 1
                    if attrs["event.name"] == "api_request":
                        exp.event_cost += float(attrs["cost_usd"])  # type: ignore[arg-type]
                        for key, kind in _TOKEN_FIELDS.items():
                            exp.event_tokens[kind] += int(attrs[key])  # type: ignore[call-overload]
        for rm in doc.get("resourceMetrics", []):
            for sm in rm["scopeMetrics"]:
                for metric in sm["metrics"]:
                    for point in metric["sum"]["dataPoints"]:
                        exp.points += 1
                        if metric["name"] == "claude_code.cost.usage":
                            exp.metric_cost += point["asDouble"]
                        if metric["name"] == "claude_code.token.usage":
                            kind = str(_attrs(point["attributes"])["type"])
                            exp.metric_tokens[kind] += int(point["asDouble"])
    return exp


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_item_lands(runtime: Runtime, transport: str) -> None:
    assert runtime.grpc_address and runtime.http_address
    for request in recorded(transport):
        send_recorded(runtime.grpc_address, runtime.http_address, request)
    exp = expected_from(transport)

    stored_spans = set(query(runtime, "SELECT trace_id, span_id, name FROM spans"))
    assert stored_spans == exp.spans
    assert len(exp.spans) == 6

    stored_events = Counter(
        {
            str(name): int(n)
            for name, n in query(runtime, "SELECT event_name, count(*) FROM log_events GROUP BY 1")
        }  # type: ignore[call-overload]
    )
    assert stored_events == exp.events
    assert stored_events["api_request"] == 2

    assert query(runtime, "SELECT count(*) FROM metric_points") == [(exp.points,)]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cost_and_tokens_equal_the_recorded_sums(runtime: Runtime, transport: str) -> None:
    assert runtime.grpc_address and runtime.http_address
    for request in recorded(transport):
        send_recorded(runtime.grpc_address, runtime.http_address, request)
    exp = expected_from(transport)
    # The two pipelines describe the same spend; the recording shows them equal.
    assert exp.event_cost == pytest.approx(exp.metric_cost, abs=1e-12)
    assert exp.event_cost > 0

    ((event_cost,),) = query(
        runtime, "SELECT sum(cost_usd) FROM log_events WHERE event_name = 'api_request'"
    )
    ((metric_cost,),) = query(
        runtime,
        "SELECT sum(increase) FROM metric_points WHERE metric_name = 'claude_code.cost.usage'",
    )
    assert event_cost == pytest.approx(exp.event_cost, abs=1e-12)
    assert metric_cost == pytest.approx(exp.metric_cost, abs=1e-12)

    event_tokens = query(
        runtime,
        "SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), "
        "sum(cache_creation_tokens) FROM log_events WHERE event_name = 'api_request'",
    )[0]
    assert (
        dict(zip(["input", "output", "cacheRead", "cacheCreation"], event_tokens, strict=True))
        == exp.event_tokens
    )
    metric_tokens = dict(
        query(
            runtime,
            "SELECT type, sum(increase)::BIGINT FROM metric_points "
            "WHERE metric_name = 'claude_code.token.usage' GROUP BY 1",
        )
    )
    assert metric_tokens == exp.metric_tokens
    assert exp.metric_tokens == exp.event_tokens


def test_claude_code_fields_are_promoted(runtime: Runtime) -> None:
    assert runtime.grpc_address and runtime.http_address
    for request in recorded("grpc"):
        send_recorded(runtime.grpc_address, runtime.http_address, request)
    rows = query(
        runtime,
        "SELECT DISTINCT session_id, prompt_id IS NOT NULL, trace_id IS NOT NULL, body "
        "FROM log_events WHERE event_name = 'tool_result'",
    )
    assert rows == [("611ea787-3556-45fb-bd6b-f0b752fb9e87", True, True, "claude_code.tool_result")]
    # tool_result sends success and duration as strings; the promoted columns are typed.
    assert query(
        runtime,
        "SELECT success, duration_ms, tool_name FROM log_events WHERE event_name = 'tool_result'",
    ) == [(True, 201.0, "Bash")]
    # The attribute JSON keeps every attribute with its original type.
    ((attrs,),) = query(
        runtime, "SELECT attributes FROM log_events WHERE event_name = 'tool_result'"
    )
    decoded = json.loads(str(attrs))
    assert decoded["success"] == "true"
    assert type(decoded["event.sequence"]) is int
    assert (
        query(
            runtime,
            "SELECT span_type, model FROM spans WHERE name = 'claude_code.llm_request' "
            "ORDER BY start_ns",
        )
        == [("llm_request", "claude-opus-5-5")] * 2
    )
    roots = query(runtime, "SELECT name FROM spans WHERE parent_span_id IS NULL")
    assert roots == [("claude_code.interaction",)]
