"""The decoders on their own: every data type, OTLP/JSON's rules and leniencies, edge values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelwatch.ingest import otlp_json, otlp_proto
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.normalize import event_name
from otelwatch.store.rows import LOG_EVENT_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS

RECEIVED = 1_800_000_000_000_000_000
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _span_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(SPAN_COLUMNS, row, strict=True))


def _log_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(LOG_EVENT_COLUMNS, row, strict=True))


def _point_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(METRIC_POINT_COLUMNS, row, strict=True))


# ------------------------------------------------------------------ attribute values


def test_json_attribute_values_of_every_type() -> None:
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": SPAN,
                                "name": "s",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": 1700000000500000000,
                                "attributes": [
                                    {"key": "s", "value": {"stringValue": "x"}},
                                    {"key": "i", "value": {"intValue": "42"}},
                                    {"key": "n", "value": {"intValue": 7}},
                                    {"key": "d", "value": {"doubleValue": 1.5}},
                                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                                    {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                                    {"key": "b", "value": {"boolValue": True}},
                                    {"key": "bytes", "value": {"bytesValue": "AQID"}},
                                    {
                                        "key": "a",
                                        "value": {
                                            "arrayValue": {
                                                "values": [
                                                    {"intValue": "1"},
                                                    {"stringValue": "two"},
                                                ]
                                            }
                                        },
                                    },
                                    {
                                        "key": "kv",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "inner", "value": {"boolValue": False}}
                                                ]
                                            }
                                        },
                                    },
                                    {"key": "empty", "value": {}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    batch = otlp_json.decode_traces(_json(doc), RECEIVED)
    span = _span_dict(batch.spans[0])
    assert span["kind"] == "server"
    assert span["duration_ns"] == 500_000_000
    assert json.loads(span["attributes"]) == {
        "s": "x",
        "i": 42,
        "n": 7,
        "d": 1.5,
        "nan": "NaN",
        "inf": "-Infinity",
        "b": True,
        "bytes": "AQID",
        "a": [1, "two"],
        "kv": {"inner": False},
        "empty": None,
    }


def test_protobuf_and_json_decode_a_span_the_same() -> None:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "svc"
    scope = rs.scope_spans.add()
    scope.scope.name = "lib"
    span = scope.spans.add(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(SPAN),
        parent_span_id=bytes.fromhex("00f067aa0ba902b7"),
        name="op",
        kind=3,
        start_time_unix_nano=10,
        end_time_unix_nano=20,
    )
    span.attributes.add(key="session.id").value.string_value = "s1"
    span.attributes.add(key="x").value.double_value = 2.5
    span.status.code = 2
    span.status.message = "bad"
    event = span.events.add(time_unix_nano=15, name="e")
    event.attributes.add(key="k").value.int_value = 3
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "lib"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": SPAN,
                                "parentSpanId": "00f067aa0ba902b7",
                                "name": "op",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": "10",
                                "endTimeUnixNano": "20",
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": "s1"}},
                                    {"key": "x", "value": {"doubleValue": 2.5}},
                                ],
                                "status": {"code": 2, "message": "bad"},
                                "events": [
                                    {
                                        "timeUnixNano": "15",
                                        "name": "e",
                                        "attributes": [{"key": "k", "value": {"intValue": "3"}}],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    from_proto = otlp_proto.decode_traces(request.SerializeToString(), RECEIVED)
    from_json = otlp_json.decode_traces(_json(doc), RECEIVED)
    assert from_proto.spans == from_json.spans
    assert from_proto.resources == from_json.resources
    row = _span_dict(from_json.spans[0])
    assert (row["kind"], row["status_code"], row["session_id"]) == ("client", "error", "s1")


def test_json_accepts_base64_ids_as_protobufs_own_printer_writes_them() -> None:
    import base64

    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": base64.b64encode(bytes.fromhex(TRACE)).decode(),
                                "spanId": base64.b64encode(bytes.fromhex(SPAN)).decode(),
                                "name": "s",
                            }
                        ]
                    }
                ]
            }
        ]
    }
    span = _span_dict(otlp_json.decode_traces(_json(doc), RECEIVED).spans[0])
    assert (span["trace_id"], span["span_id"]) == (TRACE, SPAN)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ("nope", "attributes must be a list"),
        ([{"key": 1, "value": {}}], "key must be a string"),
        ([{"key": "k", "value": {"intValue": "12x"}}], "intValue must be an integer"),
        ([{"key": "k", "value": {"boolValue": "true"}}], "boolValue must be true or false"),
        ([{"key": "k", "value": {"stringValue": 5}}], "stringValue must be a string"),
        ([{"key": "k", "value": {"mystery": 5}}], "unknown AnyValue field"),
        ([{"key": "k", "value": {"stringValue": "a", "intValue": 1}}], "exactly one field"),
    ],
)
def test_json_wrong_types_are_decode_errors(attributes: Any, message: str) -> None:
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {"spans": [{"traceId": TRACE, "spanId": SPAN, "attributes": attributes}]}
                ]
            }
        ]
    }
    with pytest.raises(DecodeError, match=message):
        otlp_json.decode_traces(_json(doc), RECEIVED)


def test_deep_nesting_is_refused() -> None:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": SPAN,
                                "attributes": [{"key": "deep", "value": value}],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    with pytest.raises(DecodeError, match="nested"):
        otlp_json.decode_traces(_json(doc), RECEIVED)


# ------------------------------------------------------------------ times


def test_reversed_and_huge_times() -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    spans.add(
        trace_id=bytes.fromhex(TRACE),
        span_id=bytes.fromhex(SPAN),
        start_time_unix_nano=2**64 - 1,
        end_time_unix_nano=5,
    )
    span = _span_dict(otlp_proto.decode_traces(request.SerializeToString(), RECEIVED).spans[0])
    assert span["start_ns"] == 2**63 - 1
    assert span["duration_ns"] == 0


def test_a_log_without_time_takes_observed_then_received_time() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(observed_time_unix_nano=123)
    records.add()
    rows = [
        _log_dict(r)
        for r in otlp_proto.decode_logs(request.SerializeToString(), RECEIVED).log_events
    ]
    assert [(r["time_ns"], r["observed_ns"]) for r in rows] == [(123, 123), (RECEIVED, RECEIVED)]


# ------------------------------------------------------------------ events


@pytest.mark.parametrize(
    ("attributes", "otlp_name", "body", "expected"),
    [
        ({"event.name": "api_request"}, "", "claude_code.api_request", "api_request"),
        ({}, "", "claude_code.tool_result", "tool_result"),
        ({}, "deploy.done", "whatever", "deploy.done"),
        ({}, "claude_code.user_prompt", None, "user_prompt"),
        ({"event.name": "x"}, "y", None, "x"),
        ({}, "", "an ordinary log line", None),
        ({"event.name": 5}, "", {"structured": True}, None),
    ],
)
def test_event_name(
    attributes: dict[str, Any], otlp_name: str, body: Any, expected: str | None
) -> None:
    assert event_name(attributes, otlp_name, body) == expected


def test_claude_code_event_fields_accept_numbers_and_digit_strings() -> None:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=1)
    record.body.string_value = "claude_code.tool_result"
    for key, value in [("duration_ms", "201"), ("success", "false"), ("input_tokens", "12")]:
        record.attributes.add(key=key).value.string_value = value
    record.attributes.add(key="cost_usd").value.double_value = 0.25
    row = _log_dict(otlp_proto.decode_logs(request.SerializeToString(), RECEIVED).log_events[0])
    assert (row["duration_ms"], row["success"], row["input_tokens"], row["cost_usd"]) == (
        201.0,
        False,
        12,
        0.25,
    )
    assert row["event_name"] == "tool_result"


# ------------------------------------------------------------------ metrics of every kind


def _metrics_request() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    gauge = metrics.add(name="g")
    gauge.gauge.data_points.add(time_unix_nano=5, as_int=3)
    total = metrics.add(name="s", unit="1")
    total.sum.aggregation_temporality = 2
    total.sum.is_monotonic = True
    total.sum.data_points.add(start_time_unix_nano=1, time_unix_nano=5, as_double=2.5)
    histogram = metrics.add(name="h")
    histogram.histogram.aggregation_temporality = 1
    histogram.histogram.data_points.add(
        time_unix_nano=5,
        count=3,
        sum=6.0,
        min=1.0,
        max=3.0,
        bucket_counts=[1, 2, 0],
        explicit_bounds=[1.5, 2.5],
    )
    exponential = metrics.add(name="e")
    exponential.exponential_histogram.aggregation_temporality = 2
    point = exponential.exponential_histogram.data_points.add(
        time_unix_nano=5, count=4, scale=2, zero_count=1
    )
    point.positive.offset = -1
    point.positive.bucket_counts.extend([1, 2])
    summary = metrics.add(name="q")
    sp = summary.summary.data_points.add(time_unix_nano=5, count=10, sum=55.0)
    sp.quantile_values.add(quantile=0.5, value=5.0)
    metrics.add(name="empty")
    return request


def _metrics_json() -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "g",
                                "gauge": {"dataPoints": [{"timeUnixNano": "5", "asInt": "3"}]},
                            },
                            {
                                "name": "s",
                                "unit": "1",
                                "sum": {
                                    "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": "1",
                                            "timeUnixNano": "5",
                                            "asDouble": 2.5,
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "h",
                                "histogram": {
                                    "aggregationTemporality": 1,
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": "5",
                                            "count": "3",
                                            "sum": 6.0,
                                            "min": 1.0,
                                            "max": 3.0,
                                            "bucketCounts": ["1", "2", "0"],
                                            "explicitBounds": [1.5, 2.5],
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "e",
                                "exponentialHistogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": "5",
                                            "count": "4",
                                            "scale": 2,
                                            "zeroCount": "1",
                                            "positive": {"offset": -1, "bucketCounts": ["1", "2"]},
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "q",
                                "summary": {
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": "5",
                                            "count": "10",
                                            "sum": 55.0,
                                            "quantileValues": [{"quantile": 0.5, "value": 5.0}],
                                        }
                                    ]
                                },
                            },
                            {"name": "empty"},
                        ]
                    }
                ]
            }
        ]
    }


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_every_metric_type(encoding: str) -> None:
    if encoding == "protobuf":
        batch = otlp_proto.decode_metrics(_metrics_request().SerializeToString(), RECEIVED)
    else:
        batch = otlp_json.decode_metrics(_json(_metrics_json()), RECEIVED)
    points = {p["metric_name"]: p for p in map(_point_dict, batch.metric_points)}
    assert batch.rejected == 1  # the metric without data
    assert "empty" in batch.rejected_reason
    assert (points["g"]["metric_type"], points["g"]["value"], points["g"]["temporality"]) == (
        "gauge",
        3.0,
        None,
    )
    assert (points["s"]["temporality"], points["s"]["is_monotonic"], points["s"]["value"]) == (
        "cumulative",
        True,
        2.5,
    )
    h = points["h"]
    assert (h["temporality"], h["count"], h["sum"], h["min"], h["max"]) == (
        "delta",
        3,
        6.0,
        1.0,
        3.0,
    )
    assert (h["bucket_counts"], h["explicit_bounds"]) == ([1, 2, 0], [1.5, 2.5])
    e = json.loads(points["e"]["detail"])
    assert (points["e"]["count"], e["scale"], e["zero_count"], e["positive"]) == (
        4,
        2,
        1,
        {"offset": -1, "bucket_counts": [1, 2]},
    )
    q = points["q"]
    assert (q["count"], q["sum"], json.loads(q["detail"])["quantiles"]) == (
        10,
        55.0,
        [{"quantile": 0.5, "value": 5.0}],
    )


def test_series_key_depends_on_attributes_not_their_order() -> None:
    def request(order: list[tuple[str, str]]) -> bytes:
        r = ExportMetricsServiceRequest()
        metric = r.resource_metrics.add().scope_metrics.add().metrics.add(name="c")
        point = metric.sum.data_points.add(time_unix_nano=5, as_double=1)
        for key, value in order:
            point.attributes.add(key=key).value.string_value = value
        return r.SerializeToString()

    key = _point_dict(
        otlp_proto.decode_metrics(request([("a", "1"), ("b", "2")]), RECEIVED).metric_points[0]
    )["series_key"]
    same = _point_dict(
        otlp_proto.decode_metrics(request([("b", "2"), ("a", "1")]), RECEIVED).metric_points[0]
    )["series_key"]
    other = _point_dict(
        otlp_proto.decode_metrics(request([("a", "1"), ("b", "3")]), RECEIVED).metric_points[0]
    )["series_key"]
    assert key == same != other
