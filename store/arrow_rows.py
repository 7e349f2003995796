"""Row tuples into Arrow tables, the form DuckDB inserts in bulk.

The writer does this for the rows it is given; decoder processes do it ahead with :func:`pack`,
so that the work runs in parallel instead of on the writer thread. Both use :func:`table`, so a
packed table and one the writer builds have the same schema and can be inserted together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from otelwatch.store.rows import (
    LOG_EVENT_COLUMNS,
    SPAN_COLUMNS,
    PackedRows,
    RowBatch,
    log_key,
    span_key,
)

_STRING = pa.string()
_INT64 = pa.int64()
_FLOAT64 = pa.float64()

# Every column not listed here is a string.
ARROW_TYPES: dict[str, pa.DataType] = {
    "start_ns": _INT64,
    "end_ns": _INT64,
    "duration_ns": _INT64,
    "received_ns": _INT64,
    "first_seen_ns": _INT64,
    "time_ns": _INT64,
    "observed_ns": _INT64,
    "severity_number": pa.int32(),
    "input_tokens": _INT64,
    "output_tokens": _INT64,
    "cache_read_tokens": _INT64,
    "cache_creation_tokens": _INT64,
    "event_sequence": _INT64,
    "ttft_ms": _FLOAT64,
    "cost_usd": _FLOAT64,
    "duration_ms": _FLOAT64,
    "value": _FLOAT64,
    "increase": _FLOAT64,
    "sum": _FLOAT64,
    "min": _FLOAT64,
    "max": _FLOAT64,
    "count": _INT64,
    "success": pa.bool_(),
    "is_monotonic": pa.bool_(),
    "bucket_counts": pa.list_(_INT64),
    "explicit_bounds": pa.list_(_FLOAT64),
}


def table(
    columns: Sequence[str], rows: Sequence[tuple[Any, ...]], extra: list[Any] | None = None
) -> pa.Table:
    """``rows`` (tuples in ``columns`` order, plus the ``extra`` column if given) as one table."""
    transposed: list[Sequence[Any]] = list(zip(*rows, strict=True))
    if extra is not None:
        transposed.append(extra)
    arrays = [
        pa.array(values, type=ARROW_TYPES.get(name, _STRING))
        for name, values in zip(columns, transposed, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=list(columns))


def pack(batch: RowBatch) -> RowBatch:
    """Move ``batch``'s spans and log events into :class:`PackedRows`; returns the batch.

    Metric points stay rows: the writer computes each cumulative point's increase from the
    series' previous point, which only it knows.
    """
    if batch.spans:
        keys = [span_key(row) for row in batch.spans]
        batch.packed_spans = PackedRows(table(SPAN_COLUMNS, batch.spans), keys)
        batch.spans = []
    if batch.log_events:
        keys = [log_key(row) for row in batch.log_events]
        batch.packed_log_events = PackedRows(table(LOG_EVENT_COLUMNS, batch.log_events), keys)
        batch.log_events = []
    return batch
