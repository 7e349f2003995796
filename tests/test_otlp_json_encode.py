"""OTLP/JSON from ``otlp_json_encode`` decodes to exactly the rows of the protobuf original."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Exemplar,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from otelwatch.ingest import otlp_json, otlp_proto
from otelwatch.ingest.otlp_json_encode import encode, to_dict
from otelwatch.simulator import Simulator, build_request
from otelwatch.store.rows import RowBatch

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"
RECEIVED_NS = 1_795_472_800_000_000_000

Decoder = Callable[[bytes, int], RowBatch]
REQUEST_TYPES: dict[str, tuple[type[Message], Decoder, Decoder]] = {
    "traces": (ExportTraceServiceRequest, otlp_proto.decode_traces, otlp_json.decode_traces),
    "logs": (ExportLogsServiceRequest, otlp_proto.decode_logs, otlp_json.decode_logs),
    "metrics": (ExportMetricsServiceRequest, otlp_proto.decode_metrics, otlp_json.decode_metrics),
}


def signal_of(request: Message) -> str:
    for signal, (kind, _, _) in REQUEST_TYPES.items():
        if isinstance(request, kind):
            return signal
    raise AssertionError(type(request))


def assert_same_rows(request: Message) -> RowBatch:
    """Decode the protobuf and the OTLP/JSON form and compare every row, field by field."""
    _, from_proto, from_json = REQUEST_TYPES[signal_of(request)]
    expected = from_proto(request.SerializeToString(), RECEIVED_NS)
    text = encode(request)
    assert_hex_ids(json.loads(text))
    got = from_json(text, RECEIVED_NS)
    assert got.resources == expected.resources
    assert got.spans == expected.spans
    assert got.log_events == expected.log_events
    assert got.metric_points == expected.metric_points
    assert (got.rejected, got.rejected_reason) == (expected.rejected, expected.rejected_reason)
    return expected


_HEX_ID = {
    "traceId": re.compile(r"[0-9a-f]{32}"),
    "spanId": re.compile(r"[0-9a-f]{16}"),
    "parentSpanId": re.compile(r"[0-9a-f]{16}"),
}


def assert_hex_ids(node: Any) -> None:
    """Every trace, span and parent id in the document is lower-case hex of the right length."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_ID:
                assert _HEX_ID[key].fullmatch(value), (key, value)
            else:
                assert_hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            assert_hex_ids(item)


def recorded_requests() -> list[tuple[str, Message]]:
    found = []
    for path in sorted(FIXTURES.glob("*/*.bin")):
        signal = path.name.split("-")[1]
        request = REQUEST_TYPES[signal][0]()
        request.ParseFromString(path.read_bytes())
        found.append((f"{path.parent.name}/{path.name}", request))
    assert len(found) >= 9
    return found


@pytest.mark.parametrize(("name", "request_"), recorded_requests(), ids=lambda v: str(v)[:40])
def test_recorded_requests_round_trip(name: str, request_: Message) -> None:
    batch = assert_same_rows(request_)
    assert batch.item_count > 0, name


def test_simulated_requests_round_trip() -> None:
    exports = Simulator(seed=4, sessions=3).advance(900)
    assert {e.signal for e in exports} == {"traces", "logs", "metrics"}
    for export in exports:
        assert_same_rows(export.request)


@pytest.mark.parametrize("signal", ["traces", "logs", "metrics"])
def test_large_simulated_requests_round_trip(signal: str) -> None:
    batch = assert_same_rows(build_request(signal, 500, seed=2))  # type: ignore[arg-type]
    assert batch.item_count == 500


def test_the_json_is_otlp_json_not_protobuf_json() -> None:
    span = Span(
        trace_id=bytes.fromhex("9adab7ba98763ad5d2e3a59faf164050"),
        span_id=bytes.fromhex("9f38245ef3e310d7"),
        parent_span_id=bytes.fromhex("43f69425064476c9"),
        name="claude_code.tool",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1795472722455000000,
        end_time_unix_nano=1795472722738978966,
        attributes=[
            KeyValue(key="duration_ms", value=AnyValue(int_value=283)),
            KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\xff")),
            KeyValue(key="spanId", value=AnyValue(string_value="not an id")),
        ],
        links=[Span.Link(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        flags=257,
    )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )
    text = encode(request)
    document = json.loads(text)
    assert document == to_dict(request)
    out = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert out["traceId"] == "9adab7ba98763ad5d2e3a59faf164050"
    assert out["spanId"] == "9f38245ef3e310d7"
    assert out["parentSpanId"] == "43f69425064476c9"
    assert out["links"][0] == {"traceId": "01" * 16, "spanId": "02" * 8}
    assert out["startTimeUnixNano"] == "1795472722455000000"  # 64-bit as a decimal string
    assert out["kind"] == 1 and out["status"]["code"] == 2  # enums as integers
    assert out["flags"] == 257
    attributes = {a["key"]: a["value"] for a in out["attributes"]}
    assert attributes["duration_ms"] == {"intValue": "283"}
    assert attributes["blob"] == {"bytesValue": "AP8="}  # other bytes stay base64
    assert attributes["spanId"] == {"stringValue": "not an id"}  # content is never rewritten
    assert b"\n" not in text


def _exemplar() -> Exemplar:
    return Exemplar(
        time_unix_nano=5,
        as_double=1.5,
        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
        span_id=bytes.fromhex("b7ad6b7169203331"),
        filtered_attributes=[KeyValue(key="k", value=AnyValue(string_value="v"))],
    )


def test_every_metric_type_round_trips_with_exemplar_ids_in_hex() -> None:
    attrs = [KeyValue(key="type", value=AnyValue(string_value="input"))]
    metrics = [
        Metric(
            name="g",
            unit="1",
            gauge=Gauge(
                data_points=[
                    NumberDataPoint(time_unix_nano=9, as_int=-(2**63), attributes=attrs),
                    NumberDataPoint(time_unix_nano=9, as_int=0),
                    NumberDataPoint(time_unix_nano=9, as_double=0.0, exemplars=[_exemplar()]),
                ]
            ),
        ),
        Metric(
            name="h",
            histogram=Histogram(
                aggregation_temporality=2,
                data_points=[
                    HistogramDataPoint(
                        start_time_unix_nano=1,
                        time_unix_nano=2,
                        count=2**63 - 1,
                        sum=3.25,
                        min=0.5,
                        max=2.75,
                        bucket_counts=[1, 0, 2**62],
                        explicit_bounds=[1.0, 2.0],
                    )
                ],
            ),
        ),
        Metric(
            name="e",
            exponential_histogram=ExponentialHistogram(
                aggregation_temporality=1,
                data_points=[
                    ExponentialHistogramDataPoint(
                        count=4,
                        scale=-3,
                        zero_count=1,
                        positive=ExponentialHistogramDataPoint.Buckets(
                            offset=-2, bucket_counts=[1, 2]
                        ),
                    )
                ],
            ),
        ),
        Metric(
            name="s",
            summary=Summary(
                data_points=[
                    SummaryDataPoint(
                        count=3,
                        sum=6.0,
                        quantile_values=[SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0)],
                    )
                ]
            ),
        ),
    ]
    request = ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=metrics)])]
    )
    batch = assert_same_rows(request)
    assert len(batch.metric_points) == 6
    exemplar = to_dict(request)["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"][
        "dataPoints"
    ][2]["exemplars"][0]
    assert exemplar["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert exemplar["spanId"] == "b7ad6b7169203331"


def test_log_records_round_trip_with_and_without_ids() -> None:
    records = [
        LogRecord(
            time_unix_nano=7,
            body=AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="a")])),
            trace_id=b"\xab" * 16,
            span_id=b"\xcd" * 8,
            severity_number=9,
            severity_text="INFO",
            event_name="x.y",
        ),
        LogRecord(observed_time_unix_nano=8, body=AnyValue(string_value="claude_code.auth")),
        LogRecord(),
    ]
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])]
    )
    batch = assert_same_rows(request)
    assert batch.log_events[0][12:14] == ("ab" * 16, "cd" * 8)
    assert batch.log_events[1][12:14] == (None, None)


# --------------------------------------------------------------------------- any attribute value


# Attribute keys are never empty (the OpenTelemetry specification forbids it). The canonical JSON
# mapping would leave an empty key out, and otelwatch's decoder insists on a "key".
KEYS = st.text(min_size=1, max_size=8)


def _any_values() -> st.SearchStrategy[AnyValue]:
    scalars = st.one_of(
        st.text().map(lambda s: AnyValue(string_value=s)),
        st.booleans().map(lambda b: AnyValue(bool_value=b)),
        st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
        st.binary(max_size=20).map(lambda b: AnyValue(bytes_value=b)),
        st.just(AnyValue()),
    )

    def nest(children: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
        arrays = st.lists(children, max_size=3).map(
            lambda vs: AnyValue(array_value=ArrayValue(values=vs))
        )
        kvlists = st.lists(st.tuples(KEYS, children), max_size=3).map(
            lambda kvs: AnyValue(
                kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs])
            )
        )
        return st.one_of(arrays, kvlists)

    return st.recursive(scalars, nest, max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.tuples(KEYS, _any_values()), max_size=6))
def test_any_attribute_value_round_trips(values: list[tuple[str, AnyValue]]) -> None:
    attributes = [KeyValue(key=k, value=v) for k, v in values]
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=attributes),
                scope_spans=[
                    ScopeSpans(
                        spans=[
                            Span(
                                trace_id=b"\x11" * 16,
                                span_id=b"\x22" * 8,
                                name="s",
                                attributes=attributes,
                                events=[Span.Event(name="e", attributes=attributes)],
                            )
                        ]
                    )
                ],
            )
        ]
    )
    assert_same_rows(request)


def test_non_finite_doubles_use_the_json_spellings() -> None:
    attrs = [
        KeyValue(key="nan", value=AnyValue(double_value=math.nan)),
        KeyValue(key="inf", value=AnyValue(double_value=-math.inf)),
    ]
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(attributes=attrs)])])
        ]
    )
    record: dict[str, Any] = to_dict(request)["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert [a["value"] for a in record["attributes"]] == [
        {"doubleValue": "NaN"},
        {"doubleValue": "-Infinity"},
    ]
    assert_same_rows(request)
