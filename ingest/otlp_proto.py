"""Binary protobuf export requests (gRPC and ``application/x-protobuf``) into a RowBatch."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from otelwatch.ingest import normalize, wire
from otelwatch.ingest.attributes import FragmentCache, proto_attributes, proto_value
from otelwatch.ingest.errors import DecodeError
from otelwatch.store.rows import RowBatch

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_INT64_MAX = normalize.INT64_MAX
_NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
# Span and log record attributes, the bulk of every request, go through one shared cache.
_attributes = FragmentCache(normalize.PROMOTED_KEYS)


class _Resources:
    """Decoded resources by their serialized form.

    A request repeats a few resources (one per session and service), often one per handful of
    spans, and the same ones come back in every request. Identifying one (attributes to sorted
    JSON, hashed) costs ~7 µs; serializing it again to look it up ~0.5 µs.
    """

    __slots__ = ("_cache", "_capacity")

    def __init__(self, capacity: int = 4096) -> None:
        self._cache: dict[bytes, normalize.Resource] = {}
        self._capacity = capacity

    def get(self, resource: Resource, received_ns: int) -> normalize.Resource:
        """``resource`` decoded, as received at ``received_ns``."""
        raw = resource.SerializeToString()
        known = self._cache.get(raw)
        if known is None:
            known = normalize.resource(proto_attributes(resource.attributes), received_ns)
            if len(self._cache) >= self._capacity:
                self._cache.clear()
            self._cache[raw] = known
            return known
        return known.received_at(received_ns)


_resources = _Resources()


def _parse(message: Any, body: bytes, what: str) -> None:
    try:
        message.ParseFromString(body)
    except ProtobufDecodeError as exc:
        # protobuf names the message class, which for the wire classes is an internal name.
        detail = re.sub(r"^Error parsing message with type '[^']*': ?", "", str(exc))
        raise DecodeError(f"not a valid {what}: {detail or 'malformed protobuf'}") from None


def _optional_id(raw: bytes, size: int) -> str | None:
    return raw.hex() if len(raw) == size and raw != bytes(size) else None


def decode_traces(body: bytes, received_ns: int) -> RowBatch:
    """An ``ExportTraceServiceRequest``. Spans with a missing or malformed id are rejected."""
    # Parsed with the wire class, which yields each attribute as serialized bytes.
    request = wire.TraceRequest()
    _parse(request, body, "ExportTraceServiceRequest")
    batch = RowBatch()
    span_row = normalize.span_row
    for resource_spans in request.resource_spans:
        res = _resources.get(resource_spans.resource, received_ns)
        batch.resources[res.resource_id] = res.row
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            scope_version = scope_spans.scope.version
            for span in scope_spans.spans:
                trace_id = span.trace_id
                span_id = span.span_id
                parent = span.parent_span_id
                if (
                    len(trace_id) != 16
                    or trace_id == _ZERO_TRACE
                    or len(span_id) != 8
                    or span_id == _ZERO_SPAN
                    or (parent and len(parent) != 8)
                ):
                    batch.reject("span with a missing or malformed trace, span or parent id")
                    continue
                attributes_json, promoted = _attributes.encode(span.attributes)
                raw_events, raw_links, raw_status = span.events, span.links, span.status
                events = [_event(raw) for raw in raw_events] if raw_events else []
                links = [_link(raw) for raw in raw_links] if raw_links else []
                status = _status(raw_status) if raw_status else _NO_STATUS
                batch.spans.append(
                    span_row(
                        trace_id=trace_id.hex(),
                        span_id=span_id.hex(),
                        parent_span_id=parent.hex() if parent and parent != _ZERO_SPAN else None,
                        trace_state=span.trace_state,
                        res=res,
                        scope_name=scope_name,
                        scope_version=scope_version,
                        name=span.name,
                        kind=span.kind,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=status.code,
                        status_message=status.message,
                        attributes_json=attributes_json,
                        promoted=promoted,
                        events=events,
                        links=links,
                        received_ns=received_ns,
                    )
                )
    return batch


_NO_STATUS = Status()


def _embedded(cls: Any, raw: bytes, what: str) -> Any:
    try:
        return cls.FromString(raw)
    except ProtobufDecodeError as exc:
        raise DecodeError(f"not a valid {what}: {exc}") from None


def _event(raw: bytes) -> dict[str, Any]:
    event = _embedded(Span.Event, raw, "span event")
    return {
        "time_ns": normalize.clamp_time(event.time_unix_nano),
        "name": event.name,
        "attributes": proto_attributes(event.attributes),
    }


def _link(raw: bytes) -> dict[str, Any]:
    link = _embedded(Span.Link, raw, "span link")
    return {
        "trace_id": link.trace_id.hex(),
        "span_id": link.span_id.hex(),
        "trace_state": link.trace_state,
        "attributes": proto_attributes(link.attributes),
    }


def _status(raw: bytes) -> Status:
    status: Status = _embedded(Status, raw, "span status")
    return status


def decode_logs(body: bytes, received_ns: int) -> RowBatch:
    """An ``ExportLogsServiceRequest``. Malformed trace or span ids on a record are dropped."""
    request = wire.LogsRequest()
    _parse(request, body, "ExportLogsServiceRequest")
    batch = RowBatch()
    log_row = normalize.log_row
    for resource_logs in request.resource_logs:
        res = _resources.get(resource_logs.resource, received_ns)
        batch.resources[res.resource_id] = res.row
        for scope_logs in resource_logs.scope_logs:
            scope_name = scope_logs.scope.name
            for record in scope_logs.log_records:
                attributes_json, promoted = _attributes.encode(record.attributes)
                batch.log_events.append(
                    log_row(
                        res=res,
                        scope_name=scope_name,
                        time_ns=record.time_unix_nano,
                        observed_ns=record.observed_time_unix_nano,
                        severity_number=record.severity_number,
                        severity_text=record.severity_text,
                        body=proto_value(record.body) if record.HasField("body") else None,
                        otlp_event_name=record.event_name,
                        attributes_json=attributes_json,
                        promoted=promoted,
                        trace_id=_optional_id(record.trace_id, 16),
                        span_id=_optional_id(record.span_id, 8),
                        received_ns=received_ns,
                    )
                )
    return batch


def decode_metrics(body: bytes, received_ns: int) -> RowBatch:
    """An ``ExportMetricsServiceRequest``: every data point of every metric type."""
    request = ExportMetricsServiceRequest()
    _parse(request, body, "ExportMetricsServiceRequest")
    batch = RowBatch()
    for resource_metrics in request.resource_metrics:
        res = _resources.get(resource_metrics.resource, received_ns)
        batch.resources[res.resource_id] = res.row
        for scope_metrics in resource_metrics.scope_metrics:
            scope_name = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                _metric_points(batch, res, scope_name, metric, received_ns)
    return batch


def _number(point: NumberDataPoint) -> float | None:
    if point.flags & _NO_RECORDED_VALUE:
        return None
    kind = point.WhichOneof("value")
    if kind == "as_double":
        return point.as_double
    if kind == "as_int":
        return float(point.as_int)
    return None


def _metric_points(
    batch: RowBatch,
    res: normalize.Resource,
    scope_name: str,
    metric: Metric,
    received_ns: int,
) -> None:
    common: dict[str, Any] = {
        "res": res,
        "scope_name": scope_name,
        "metric_name": metric.name,
        "unit": metric.unit,
        "received_ns": received_ns,
    }
    row = normalize.metric_row
    out = batch.metric_points
    data = metric.WhichOneof("data")
    if data == "gauge":
        for p in metric.gauge.data_points:
            out.append(
                row(
                    **common,
                    metric_type="gauge",
                    temporality=None,
                    is_monotonic=None,
                    attributes=proto_attributes(p.attributes),
                    start_ns=p.start_time_unix_nano,
                    time_ns=p.time_unix_nano,
                    value=_number(p),
                )
            )
    elif data == "sum":
        temporality = normalize.temporality_name(metric.sum.aggregation_temporality)
        monotonic = metric.sum.is_monotonic
        for p in metric.sum.data_points:
            out.append(
                row(
                    **common,
                    metric_type="sum",
                    temporality=temporality,
                    is_monotonic=monotonic,
                    attributes=proto_attributes(p.attributes),
                    start_ns=p.start_time_unix_nano,
                    time_ns=p.time_unix_nano,
                    value=_number(p),
                )
            )
    elif data == "histogram":
        temporality = normalize.temporality_name(metric.histogram.aggregation_temporality)
        for h in metric.histogram.data_points:
            counts = list(h.bucket_counts)
            if h.count > _INT64_MAX or any(c > _INT64_MAX for c in counts):
                batch.reject("histogram count out of range")
                continue
            out.append(
                row(
                    **common,
                    metric_type="histogram",
                    temporality=temporality,
                    is_monotonic=None,
                    attributes=proto_attributes(h.attributes),
                    start_ns=h.start_time_unix_nano,
                    time_ns=h.time_unix_nano,
                    value=None,
                    count=h.count,
                    total=h.sum if h.HasField("sum") else None,
                    minimum=h.min if h.HasField("min") else None,
                    maximum=h.max if h.HasField("max") else None,
                    bucket_counts=counts,
                    explicit_bounds=list(h.explicit_bounds),
                )
            )
    elif data == "exponential_histogram":
        temporality = normalize.temporality_name(
            metric.exponential_histogram.aggregation_temporality
        )
        for e in metric.exponential_histogram.data_points:
            if e.count > _INT64_MAX:
                batch.reject("histogram count out of range")
                continue
            out.append(
                row(
                    **common,
                    metric_type="exponential_histogram",
                    temporality=temporality,
                    is_monotonic=None,
                    attributes=proto_attributes(e.attributes),
                    start_ns=e.start_time_unix_nano,
                    time_ns=e.time_unix_nano,
                    value=None,
                    count=e.count,
                    total=e.sum if e.HasField("sum") else None,
                    minimum=e.min if e.HasField("min") else None,
                    maximum=e.max if e.HasField("max") else None,
                    detail={
                        "scale": e.scale,
                        "zero_count": e.zero_count,
                        "zero_threshold": e.zero_threshold,
                        "positive": {
                            "offset": e.positive.offset,
                            "bucket_counts": list(e.positive.bucket_counts),
                        },
                        "negative": {
                            "offset": e.negative.offset,
                            "bucket_counts": list(e.negative.bucket_counts),
                        },
                    },
                )
            )
    elif data == "summary":
        for s in metric.summary.data_points:
            if s.count > _INT64_MAX:
                batch.reject("summary count out of range")
                continue
            out.append(
                row(
                    **common,
                    metric_type="summary",
                    temporality=None,
                    is_monotonic=None,
                    attributes=proto_attributes(s.attributes),
                    start_ns=s.start_time_unix_nano,
                    time_ns=s.time_unix_nano,
                    value=None,
                    count=s.count,
                    total=s.sum,
                    detail={
                        "quantiles": [
                            {"quantile": q.quantile, "value": q.value} for q in s.quantile_values
                        ]
                    },
                )
            )
    else:
        batch.reject(f"metric {metric.name!r} has no data")
