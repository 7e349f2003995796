"""A database of about a million spans, a million events and a million metric points.

Shared by the benchmarks that need data at scale (``bench/waterfall.py``, ``bench/queries.py``).
The simulator's sessions are written through the real decoder and writer until ``seed_spans``
spans are stored, then the data is copied (``copies`` times in all) with new trace, span, series
and session ids, each copy shifted later in time, as SQL inside DuckDB. The copies keep the
simulator's trace shapes, their order in time, and the insertion order a live otelwatch gives (a
copy's rows are appended after the previous copy's). One trace of 10,000 spans (a ten-way tree,
each span's children one after the other inside it) is added last.

The simulator sends about 0.6 metric points per span (Claude Code aggregates its metrics per
export interval), so the metric points are copied more often than the spans and events: the
extra copies are sessions that sent only metrics, as Claude Code does with its events switched
off, which the Overview and Sessions price from the cost and token metrics.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import DEFAULT_START_NS, Simulator
from otelwatch.store import database, rollups
from otelwatch.store.writer import Writer

DEFAULT_PATH = Path("/tmp/otelwatch-1m.duckdb")
BIG_TRACE = "b16b16b16b16b16b16b16b16b16b1600"
BIG_SPANS = 10_000
# Each table reaches at least this many rows.
TARGET_ROWS = 1_000_000

_TIME_COLUMNS = ("start_ns", "end_ns", "received_ns", "time_ns", "observed_ns")


def seed(conn: Any, spans: int) -> None:
    """Simulated sessions through the real decoder and writer until ``spans`` spans."""
    writer = Writer(conn, max_queued_items=10**7)
    writer.start()
    decode = {
        "traces": otlp_proto.decode_traces,
        "logs": otlp_proto.decode_logs,
        "metrics": otlp_proto.decode_metrics,
    }
    sim = Simulator(seed=1, sessions=20, start_ns=DEFAULT_START_NS)
    written, pending = 0, []
    for export in sim.stream():
        batch = decode[export.signal](export.body(), sim.now_ns)
        written += len(batch.spans)
        pending.append(writer.submit(batch))
        if len(pending) > 200:
            for future in pending:
                future.result()
            pending.clear()
        if written >= spans:
            break
    for future in pending:
        future.result()
    writer.close()


def _columns(conn: Any, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def bounds(conn: Any) -> tuple[int, int]:
    """``(high, width)`` of the rows stored so far: the last receive time, and the shift from
    one copy to the next (the whole time range, plus a second)."""
    low, high = conn.execute("SELECT min(start_ns), max(received_ns) FROM spans").fetchone()
    for table in ("log_events", "metric_points"):
        more = conn.execute(f"SELECT max(received_ns) FROM {table}").fetchone()[0]
        high = max(high, more or high)
    return high, high - low + 10**9


def replicate(
    conn: Any,
    copies: int,
    tables: tuple[str, ...] = ("spans", "log_events"),
    *,
    first: int = 1,
    original: tuple[int, int] | None = None,
) -> None:
    """Append copies ``first`` to ``copies - 1`` of the original rows of ``tables``, with new
    ids, copy ``k`` shifted ``k`` times the data's time range later.

    ``original`` is :func:`bounds` before any copy was made (taken now when not given). Copy
    ``k`` of every table is shifted by the same amount, so a session's spans, events and points
    stay together; a metric point's series gets a new key with its new session.
    """
    high, width = original or bounds(conn)
    for k in range(first, copies):
        shift = k * width

        def new(column: str, size: int, k: int = k) -> str:
            return (
                f"CASE WHEN {column} IS NULL THEN NULL "
                f"ELSE substr(md5({column} || '-{k}'), 1, {size}) END"
            )

        changed = {
            "trace_id": new("trace_id", 32),
            "span_id": new("span_id", 16),
            "parent_span_id": new("parent_span_id", 16),
            "series_key": new("series_key", 32),
            "session_id": f"session_id || '-{k}'",
        }
        for column in _TIME_COLUMNS:
            changed[column] = f"{column} + {shift}"
        for table in tables:
            select = ", ".join(changed.get(c, f'"{c}"') for c in _columns(conn, table))
            conn.execute(
                f"INSERT INTO {table} SELECT {select} FROM {table} "
                f"WHERE received_ns <= {high} ORDER BY received_ns"
            )


def big_trace_request(start_ns: int) -> bytes:
    """One trace of :data:`BIG_SPANS` spans over a minute: a ten-way tree."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="claude-code"))
    )
    scope = rs.scope_spans.add()
    scope.scope.name = "com.anthropic.claude_code.tracing"
    interval = {1: (0.0, 60e9)}
    for n in range(1, BIG_SPANS + 1):
        if n > 1:
            parent = (n - 2) // 10 + 1
            a, b = interval[parent]
            step = (b - a) / 10
            slot = (n - 2) % 10
            interval[n] = (a + slot * step, a + slot * step + step * 0.9)
        a, b = interval[n]
        kind = "interaction" if n == 1 else ("llm_request" if n % 3 == 0 else "tool")
        span = scope.spans.add(
            trace_id=bytes.fromhex(BIG_TRACE),
            span_id=n.to_bytes(8, "big"),
            name=f"claude_code.{kind}",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start_ns + int(a),
            end_time_unix_nano=start_ns + int(b),
        )
        if n > 1:
            span.parent_span_id = ((n - 2) // 10 + 1).to_bytes(8, "big")
        span.attributes.append(KeyValue(key="span.type", value=AnyValue(string_value=kind)))
        if kind == "tool":
            span.attributes.append(
                KeyValue(key="tool_name", value=AnyValue(string_value=f"Tool{n % 13}"))
            )
    return request.SerializeToString()


def build(path: Path, seed_spans: int = 100_000, copies: int = 10) -> None:
    """Create the benchmark database at ``path``: spans and events ``copies`` times the seed,
    and metric points copied until there are at least :data:`TARGET_ROWS`."""
    started = time.perf_counter()
    conn = database.connect(path)
    seed(conn, seed_spans)
    print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    seeded_points = conn.execute("SELECT count(*) FROM metric_points").fetchone()[0]
    point_copies = max(copies, math.ceil(TARGET_ROWS / max(1, seeded_points)))
    original = bounds(conn)
    replicate(conn, copies, ("spans", "log_events", "metric_points"), original=original)
    # The extra copies of the metric points: sessions that sent only metrics.
    replicate(conn, point_copies, ("metric_points",), first=copies, original=original)
    # The copies went around the writer, which keeps the per-session totals.
    rollups.rebuild_all(conn)
    newest = conn.execute("SELECT max(start_ns) FROM spans").fetchone()[0]
    writer = Writer(conn)
    writer.start()
    writer.write(otlp_proto.decode_traces(big_trace_request(newest + 10**9), newest + 10**9))
    writer.close()
    conn.execute("CHECKPOINT")
    conn.close()
    print(f"built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
