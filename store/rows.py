"""The rows the store accepts: the contract between ingest and the writer.

Ingest turns each OTLP export request into one :class:`RowBatch`; the writer inserts a group of
them in one transaction. Rows are plain tuples in the column order of the tables in
``store/sql/0001_initial.sql`` (the names are listed below next to each type), because building a
tuple is the cheapest thing Python can do per item and the writer transposes a whole group at once.

This module imports nothing outside the standard library, so ingest can use it without DuckDB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Final

# (resource_id, service_name, attributes_json, first_seen_ns)
ResourceRow = tuple[str, str | None, str, int]
RESOURCE_COLUMNS = ("resource_id", "service_name", "attributes", "first_seen_ns")

SpanRow = tuple[
    str,  # trace_id
    str,  # span_id
    str | None,  # parent_span_id
    str | None,  # trace_state
    str,  # resource_id
    str | None,  # service_name
    str | None,  # scope_name
    str | None,  # scope_version
    str,  # name
    str,  # kind
    int,  # start_ns
    int,  # end_ns
    int,  # duration_ns
    str,  # status_code
    str | None,  # status_message
    str | None,  # session_id
    str | None,  # span_type
    str | None,  # model
    str | None,  # tool_name
    str,  # attributes (JSON)
    str | None,  # events (JSON)
    str | None,  # links (JSON)
    int,  # received_ns
]
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "resource_id",
    "service_name",
    "scope_name",
    "scope_version",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "session_id",
    "span_type",
    "model",
    "tool_name",
    "attributes",
    "events",
    "links",
    "received_ns",
)

LogEventRow = tuple[
    int,  # time_ns
    int,  # observed_ns
    int,  # received_ns
    str,  # resource_id
    str | None,  # service_name
    str | None,  # scope_name
    str | None,  # session_id
    str | None,  # prompt_id
    str | None,  # event_name
    int,  # severity_number
    str | None,  # severity_text
    str | None,  # body
    str | None,  # trace_id
    str | None,  # span_id
    str | None,  # model
    str | None,  # tool_name
    float | None,  # cost_usd
    float | None,  # duration_ms
    int | None,  # input_tokens
    int | None,  # output_tokens
    int | None,  # cache_read_tokens
    int | None,  # cache_creation_tokens
    bool | None,  # success
    str | None,  # decision
    int | None,  # event_sequence
    str,  # attributes (JSON)
    float | None,  # ttft_ms
    str | None,  # decision_source
]
LOG_EVENT_COLUMNS = (
    "time_ns",
    "observed_ns",
    "received_ns",
    "resource_id",
    "service_name",
    "scope_name",
    "session_id",
    "prompt_id",
    "event_name",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "model",
    "tool_name",
    "cost_usd",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "success",
    "decision",
    "event_sequence",
    "attributes",
    "ttft_ms",
    "decision_source",
)

MetricPointRow = tuple[
    str,  # metric_name
    str,  # metric_type: gauge | sum | histogram | exponential_histogram | summary
    str | None,  # unit
    str | None,  # temporality: delta | cumulative | None
    bool | None,  # is_monotonic
    str,  # resource_id
    str | None,  # service_name
    str | None,  # scope_name
    str | None,  # session_id
    str | None,  # model
    str | None,  # type (the `type` attribute: token type, lines added/removed, user/cli)
    str,  # series_key
    str,  # attributes (JSON)
    int,  # start_ns
    int,  # time_ns
    float | None,  # value (gauge and sum)
    int | None,  # count
    float | None,  # sum
    float | None,  # min
    float | None,  # max
    list[int] | None,  # bucket_counts
    list[float] | None,  # explicit_bounds
    str | None,  # exponential histogram / summary detail (JSON)
    int,  # received_ns
]
METRIC_POINT_COLUMNS = (
    "metric_name",
    "metric_type",
    "unit",
    "temporality",
    "is_monotonic",
    "resource_id",
    "service_name",
    "scope_name",
    "session_id",
    "model",
    "type",
    "series_key",
    "attributes",
    "start_ns",
    "time_ns",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "bucket_counts",
    "explicit_bounds",
    "detail",
    "received_ns",
)

# Positions used by the writer (dedupe keys, cumulative-to-delta).
# Final, so that mypy knows the type of each element these index.
SPAN_TRACE_ID: Final = 0
SPAN_SPAN_ID: Final = 1
METRIC_TYPE: Final = 1
METRIC_TEMPORALITY: Final = 3
METRIC_MONOTONIC: Final = 4
METRIC_SERIES_KEY: Final = 11
METRIC_START_NS: Final = 13
METRIC_TIME_NS: Final = 14
METRIC_VALUE: Final = 15


def span_key(row: SpanRow) -> Hashable:
    """What makes a span a repeat of one already stored: its trace and span ids."""
    return (row[SPAN_TRACE_ID], row[SPAN_SPAN_ID])


def log_key(row: LogEventRow) -> Hashable:
    """What makes a log record a repeat: every field but the time it was received.

    A 64-bit digest rather than the tuple itself: the same in every process (decoder processes
    compute it, the writer compares it; Python's own string hash differs between processes), and
    small to send and to remember.
    """
    text = repr(row[:2] + row[3:]).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


@dataclass(slots=True)
class PackedRows:
    """Rows already made into an Arrow table, with the key of each row for the duplicate filter.

    Decoder processes build these (:func:`otelwatch.store.arrow_rows.pack`), so the writer
    thread, the one part of ingest that cannot run in parallel, neither unpickles row tuples nor
    transposes them: it filters repeats by key and inserts the table.
    """

    table: Any  # a pyarrow.Table; typed loosely so this module needs only the standard library
    keys: list[Hashable]

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(slots=True)
class RowBatch:
    """Everything decoded from one export request, ready to be written in one transaction.

    ``rejected`` counts items the decoder refused (for example a span without a valid id); the
    request is still accepted and the count goes back to the client as OTLP partial success.
    """

    resources: dict[str, ResourceRow] = field(default_factory=dict)
    spans: list[SpanRow] = field(default_factory=list)
    log_events: list[LogEventRow] = field(default_factory=list)
    metric_points: list[MetricPointRow] = field(default_factory=list)
    rejected: int = 0
    rejected_reason: str = ""
    # Set by ``arrow_rows.pack``, which then empties ``spans`` and ``log_events``.
    packed_spans: PackedRows | None = None
    packed_log_events: PackedRows | None = None

    @property
    def span_count(self) -> int:
        """Spans in the batch, as rows or packed."""
        return len(self.spans) + (len(self.packed_spans) if self.packed_spans else 0)

    @property
    def log_event_count(self) -> int:
        """Log records in the batch, as rows or packed."""
        packed = self.packed_log_events
        return len(self.log_events) + (len(packed) if packed else 0)

    @property
    def item_count(self) -> int:
        """Spans, log records and metric points in the batch (resources are not counted)."""
        return self.span_count + self.log_event_count + len(self.metric_points)

    def reject(self, reason: str, count: int = 1) -> None:
        """Record that ``count`` items were refused, keeping the first reason for the client."""
        self.rejected += count
        if not self.rejected_reason:
            self.rejected_reason = reason
