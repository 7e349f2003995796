"""From decoded OTLP values to store rows: shared by the protobuf and the OTLP/JSON decoders.

Here live the decisions about meaning: how a resource is identified, which attributes are promoted
to columns, what a Claude Code event is called, and how out-of-range values are treated.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelwatch.ingest.attributes import to_json
from otelwatch.store.rows import LogEventRow, MetricPointRow, ResourceRow, SpanRow

INT64_MAX = 2**63 - 1

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")
TEMPORALITIES = (None, "delta", "cumulative")

# Claude Code prefixes its event bodies (and may one day prefix OTLP event_name) with this.
CLAUDE_EVENT_PREFIX = "claude_code."

# The attributes copied to columns of spans and log events (see span_row and log_row). Decoders
# pass just these, with the JSON text of all attributes.
PROMOTED_KEYS = frozenset(
    {
        "session.id",
        "span.type",
        "model",
        "gen_ai.request.model",
        "tool_name",
        "gen_ai.tool.name",
        "prompt.id",
        "event.name",
        "cost_usd",
        "duration_ms",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "success",
        "decision",
        "event.sequence",
        "ttft_ms",
        "source",
    }
)


def kind_name(kind: int) -> str:
    """The span kind as a lower-case word; unknown enum values keep their number."""
    return SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else f"kind_{kind}"


def status_name(code: int) -> str:
    """The span status code as a lower-case word; unknown values keep their number."""
    return STATUS_CODES[code] if 0 <= code < len(STATUS_CODES) else f"code_{code}"


def temporality_name(value: int) -> str | None:
    """``delta``, ``cumulative`` or ``None`` (unspecified or unknown)."""
    return TEMPORALITIES[value] if 0 <= value < len(TEMPORALITIES) else None


def short_hash(text: str) -> str:
    """A stable 16-hex-digit digest, for resource ids and series keys."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Resource:
    """A decoded resource: its id, service name, and the attributes records may fall back to."""

    resource_id: str
    service_name: str | None
    session_id: str | None
    row: ResourceRow

    def received_at(self, received_ns: int) -> Resource:
        """The same resource as first seen in a request received at ``received_ns``."""
        rid, service, text, _ = self.row
        return Resource(rid, self.service_name, self.session_id, (rid, service, text, received_ns))


def resource(attributes: dict[str, Any], received_ns: int) -> Resource:
    """Identify a resource by the hash of its sorted attributes."""
    text = to_json(attributes, sort_keys=True)
    rid = short_hash(text)
    service = _text(attributes.get("service.name"))
    return Resource(
        rid, service, _text(attributes.get("session.id")), (rid, service, text, received_ns)
    )


def event_name(attributes: Mapping[str, Any], otlp_event_name: str, body: Any) -> str | None:
    """The event's short name: ``api_request`` for Claude Code's ``claude_code.api_request``.

    Claude Code puts the short name in the attribute ``event.name`` and the prefixed one in the
    body, and leaves the OTLP ``event_name`` field empty. Other senders use the field. All three
    are accepted, in that order of preference, and the prefix is always removed.
    """
    name = attributes.get("event.name")
    if not isinstance(name, str) or not name:
        name = otlp_event_name or None
    if name is None and isinstance(body, str) and body.startswith(CLAUDE_EVENT_PREFIX):
        name = body
    if name is not None and name.startswith(CLAUDE_EVENT_PREFIX):
        name = name[len(CLAUDE_EVENT_PREFIX) :]
    return name


def clamp_time(value: int) -> int:
    """Times are stored as signed 64-bit nanoseconds; anything past year 2262 is clamped."""
    return value if value <= INT64_MAX else INT64_MAX


# ------------------------------------------------------------------ rows


def span_row(
    *,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    trace_state: str | None,
    res: Resource,
    scope_name: str | None,
    scope_version: str | None,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    status_code: int,
    status_message: str | None,
    attributes_json: str,
    promoted: Mapping[str, Any],
    events: list[dict[str, Any]],
    links: list[dict[str, Any]],
    received_ns: int,
) -> SpanRow:
    """One span. Promotes ``session.id``, ``span.type``, the model and the tool name.

    ``attributes_json`` holds every attribute; ``promoted`` at least those of
    :data:`PROMOTED_KEYS` that the span has.
    """
    start_ns = clamp_time(start_ns)
    end_ns = clamp_time(end_ns)
    get = promoted.get
    return (
        trace_id,
        span_id,
        parent_span_id,
        trace_state or None,
        res.resource_id,
        res.service_name,
        scope_name or None,
        scope_version or None,
        name,
        kind_name(kind),
        start_ns,
        end_ns,
        end_ns - start_ns if end_ns > start_ns else 0,
        status_name(status_code),
        status_message or None,
        _text(get("session.id")) or res.session_id,
        _text(get("span.type")),
        _text(get("model")) or _text(get("gen_ai.request.model")),
        _text(get("tool_name")) or _text(get("gen_ai.tool.name")),
        attributes_json,
        to_json(events) if events else None,
        to_json(links) if links else None,
        received_ns,
    )


def log_row(
    *,
    res: Resource,
    scope_name: str | None,
    time_ns: int,
    observed_ns: int,
    severity_number: int,
    severity_text: str | None,
    body: Any,
    otlp_event_name: str,
    attributes_json: str,
    promoted: Mapping[str, Any],
    trace_id: str | None,
    span_id: str | None,
    received_ns: int,
) -> LogEventRow:
    """One log record, with Claude Code's event fields promoted to columns.

    A record without a time takes its observed time, and failing that the time it was received,
    as the OTLP specification suggests. ``attributes_json`` and ``promoted`` as for spans.
    """
    time_ns = clamp_time(time_ns)
    observed_ns = clamp_time(observed_ns)
    if not time_ns:
        time_ns = observed_ns or received_ns
    get = promoted.get
    name = event_name(promoted, otlp_event_name, body)
    return (
        time_ns,
        observed_ns or time_ns,
        received_ns,
        res.resource_id,
        res.service_name,
        scope_name or None,
        _text(get("session.id")) or res.session_id,
        _text(get("prompt.id")),
        name,
        severity_number,
        severity_text or None,
        body if body is None or isinstance(body, str) else to_json(body),
        trace_id,
        span_id,
        _text(get("model")),
        _text(get("tool_name")),
        _number(get("cost_usd")),
        _number(get("duration_ms")),
        _integer(get("input_tokens")),
        _integer(get("output_tokens")),
        _integer(get("cache_read_tokens")),
        _integer(get("cache_creation_tokens")),
        _boolean(get("success")),
        _text(get("decision")),
        _integer(get("event.sequence")),
        attributes_json,
        _number(get("ttft_ms")),
        # tool_decision's `source` (config, user_reject, hook, ...); other events' is not kept here.
        _text(get("source")) if name == "tool_decision" else None,
    )


def metric_row(
    *,
    res: Resource,
    scope_name: str | None,
    metric_name: str,
    metric_type: str,
    unit: str | None,
    temporality: str | None,
    is_monotonic: bool | None,
    attributes: dict[str, Any],
    start_ns: int,
    time_ns: int,
    value: float | None,
    count: int | None = None,
    total: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    bucket_counts: list[int] | None = None,
    explicit_bounds: list[float] | None = None,
    detail: dict[str, Any] | None = None,
    received_ns: int,
) -> MetricPointRow:
    """One metric data point. The series key identifies the stream the point belongs to."""
    text = to_json(attributes, sort_keys=True)
    series_key = short_hash(
        f"{metric_name}\x00{metric_type}\x00{unit or ''}\x00{res.resource_id}\x00"
        f"{scope_name or ''}\x00{text}"
    )
    get = attributes.get
    return (
        metric_name,
        metric_type,
        unit or None,
        temporality,
        is_monotonic,
        res.resource_id,
        res.service_name,
        scope_name or None,
        _text(get("session.id")) or res.session_id,
        _text(get("model")),
        _text(get("type")),
        series_key,
        text,
        clamp_time(start_ns),
        clamp_time(time_ns),
        value,
        count,
        total,
        minimum,
        maximum,
        bucket_counts,
        explicit_bounds,
        to_json(detail) if detail else None,
        received_ns,
    )


# ------------------------------------------------------------------ promoted values

# Claude Code sends the same field as a number on one event and a digit string on another,
# and booleans often as "true"/"false": promoted columns accept both.


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    if kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _integer(value: Any) -> int | None:
    kind = type(value)
    if kind is int:
        return value if -INT64_MAX <= value <= INT64_MAX else None
    if kind is str and value.isascii() and value.isdigit():
        number = int(value)
        return number if number <= INT64_MAX else None
    if kind is float and value.is_integer() and abs(value) <= INT64_MAX:
        return int(value)
    return None


def _boolean(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return None
