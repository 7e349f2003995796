"""The OpenTelemetry Python SDK's own OTLP exporters, as real clients, over gRPC and HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from conftest import query
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetrics,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetrics,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableGauge,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otelwatch.runtime import Runtime

RESOURCE = Resource.create({"service.name": "sdk-test", "session.id": "session-from-resource"})


def _grpc_endpoint(runtime: Runtime) -> str:
    return f"http://{runtime.grpc_address}"


def _http_endpoint(runtime: Runtime, signal: str) -> str:
    return f"http://{runtime.http_address}/v1/{signal}"


def span_exporters(runtime: Runtime) -> dict[str, Any]:
    return {
        "grpc": GrpcSpans(endpoint=_grpc_endpoint(runtime), insecure=True),
        "grpc-gzip": GrpcSpans(
            endpoint=_grpc_endpoint(runtime), insecure=True, compression=grpc.Compression.Gzip
        ),
        "http": HttpSpans(endpoint=_http_endpoint(runtime, "traces")),
        "http-gzip": HttpSpans(
            endpoint=_http_endpoint(runtime, "traces"), compression=HttpCompression.Gzip
        ),
    }


@pytest.mark.parametrize("transport", ["grpc", "grpc-gzip", "http", "http-gzip"])
def test_traces(runtime: Runtime, transport: str) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(span_exporters(runtime)[transport]))
    tracer = provider.get_tracer("otelwatch.tests", "1.2.3")
    with tracer.start_as_current_span("root", attributes={"session.id": "s-1"}) as root:
        with tracer.start_as_current_span("child") as child:
            child.set_attribute("tool_name", "Bash")
            child.set_attribute("sizes", [1, 2, 3])
            child.add_event("gen_ai.request.attempt", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "it broke"))
        root.add_link(child.get_span_context(), {"why": "test"})
    provider.shutdown()

    rows = query(
        runtime,
        "SELECT name, parent_span_id, status_code, status_message, session_id, tool_name, "
        "scope_name, scope_version, service_name, attributes, events, links, trace_id, span_id "
        "FROM spans ORDER BY start_ns",
    )
    assert [r[0] for r in rows] == ["root", "child"]
    root_row, child_row = rows
    assert root_row[1] is None
    assert child_row[1] == root_row[13]
    assert child_row[12] == root_row[12]
    assert child_row[2:4] == ("error", "it broke")
    assert root_row[4] == "s-1"
    assert child_row[4] == "session-from-resource"  # falls back to the resource's session.id
    assert child_row[5] == "Bash"
    assert child_row[6:9] == ("otelwatch.tests", "1.2.3", "sdk-test")
    assert json.loads(str(child_row[9])) == {"tool_name": "Bash", "sizes": [1, 2, 3]}
    events = json.loads(str(child_row[10]))
    assert [(e["name"], e["attributes"]) for e in events] == [
        ("gen_ai.request.attempt", {"attempt": 2})
    ]
    links = json.loads(str(root_row[11]))
    assert links[0]["span_id"] == child_row[13]
    assert links[0]["attributes"] == {"why": "test"}


def _meter(
    exporter_factory: Callable[..., Any], temporality: AggregationTemporality
) -> tuple[MeterProvider, PeriodicExportingMetricReader]:
    preferred = {
        Counter: temporality,
        UpDownCounter: temporality,
        Histogram: temporality,
        ObservableGauge: AggregationTemporality.CUMULATIVE,
    }
    reader = PeriodicExportingMetricReader(
        exporter_factory(preferred_temporality=preferred), export_interval_millis=3_600_000
    )
    return MeterProvider(resource=RESOURCE, metric_readers=[reader]), reader


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE]
)
def test_metrics_total_right_for_both_temporalities(
    runtime: Runtime, transport: str, temporality: AggregationTemporality
) -> None:
    def factory(**kwargs: Any) -> Any:
        if transport == "grpc":
            return GrpcMetrics(endpoint=_grpc_endpoint(runtime), insecure=True, **kwargs)
        return HttpMetrics(endpoint=_http_endpoint(runtime, "metrics"), **kwargs)

    provider, reader = _meter(factory, temporality)
    meter = provider.get_meter("otelwatch.tests")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    queue = meter.create_up_down_counter("queue.depth")
    latency = meter.create_histogram("latency", unit="ms")
    meter.create_observable_gauge("temperature", callbacks=[lambda _options: _gauge_values()])
    # Three export intervals: a cumulative sender re-sends running totals each time.
    for step, amount in enumerate([0.25, 0.5, 1.0]):
        cost.add(amount, {"model": "m1"})
        cost.add(amount * 2, {"model": "m2"})
        queue.add(5 if step < 2 else -3)
        latency.record(10.0 * (step + 1))
        assert reader.force_flush()
    provider.shutdown()

    totals = dict(
        query(
            runtime,
            "SELECT model, sum(increase) FROM metric_points "
            "WHERE metric_name = 'claude_code.cost.usage' GROUP BY 1",
        )
    )
    assert totals == {"m1": pytest.approx(1.75), "m2": pytest.approx(3.5)}
    expected_temporality = "delta" if temporality == AggregationTemporality.DELTA else "cumulative"
    assert query(
        runtime,
        "SELECT DISTINCT temporality, is_monotonic, unit FROM metric_points "
        "WHERE metric_name = 'claude_code.cost.usage'",
    ) == [(expected_temporality, True, "USD")]
    # A non-monotonic sum goes down as well as up.
    assert query(
        runtime, "SELECT sum(increase) FROM metric_points WHERE metric_name = 'queue.depth'"
    ) == [(pytest.approx(7.0),)]
    histogram = query(
        runtime,
        "SELECT count, sum, min, max, len(bucket_counts), len(explicit_bounds) "
        "FROM metric_points WHERE metric_name = 'latency' ORDER BY time_ns DESC LIMIT 1",
    )[0]
    if temporality == AggregationTemporality.DELTA:
        assert histogram[:4] == (1, 30.0, 30.0, 30.0)
    else:
        assert histogram[:4] == (3, 60.0, 10.0, 30.0)
    assert histogram[4] == histogram[5] + 1
    gauges = query(
        runtime,
        "SELECT metric_type, value, increase FROM metric_points WHERE metric_name = 'temperature'",
    )
    assert gauges and all(g == ("gauge", 21.5, None) for g in gauges)


def _gauge_values() -> list[Any]:
    from opentelemetry.metrics import Observation

    return [Observation(21.5, {"room": "a"})]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_logs(runtime: Runtime, transport: str) -> None:
    exporter = (
        GrpcLogs(endpoint=_grpc_endpoint(runtime), insecure=True)
        if transport == "grpc"
        else HttpLogs(endpoint=_http_endpoint(runtime, "logs"))
    )
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("otelwatch.tests")
    from opentelemetry._logs import SeverityNumber

    logger.emit(
        body="claude_code.api_request",
        attributes={"event.name": "api_request", "cost_usd": 0.5, "prompt.id": "p-1"},
    )
    logger.emit(body={"structured": [1, "two"]}, event_name="deploy.finished")
    logger.emit(body="plain text", severity_number=SeverityNumber.ERROR, severity_text="ERROR")
    provider.shutdown()

    rows = query(
        runtime,
        "SELECT event_name, body, cost_usd, prompt_id, severity_number, severity_text, "
        "session_id FROM log_events ORDER BY time_ns",
    )
    assert rows == [
        ("api_request", "claude_code.api_request", 0.5, "p-1", 0, None, "session-from-resource"),
        (
            "deploy.finished",
            '{"structured":[1,"two"]}',
            None,
            None,
            0,
            None,
            "session-from-resource",
        ),
        (None, "plain text", None, None, 17, "ERROR", "session-from-resource"),
    ]
