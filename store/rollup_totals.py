"""Per-session totals of a set of new rows, the increments of ``session_rollup``.

Pure Arrow and Python (no DuckDB), so that decoder processes can compute the totals of a
request's spans and log events next to packing them (:func:`otelwatch.store.arrow_rows.pack`),
off the writer thread; the writer computes the rest (metric points, whose ``increase`` only it
knows, and tables its duplicate filter cut) and appends them all (:mod:`otelwatch.store.rollups`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

COST_METRIC = "claude_code.cost.usage"
TOKEN_METRIC = "claude_code.token.usage"  # noqa: S105 (a metric name, not a secret)
LINES = "claude_code.lines_of_code.count"
COMMITS = "claude_code.commit.count"
PULL_REQUESTS = "claude_code.pull_request.count"
ACTIVE_TIME = "claude_code.active_time.total"

# The summed columns, in table order after the key, service and times.
SUMS = (
    "requests",
    "ev_cost",
    "ev_input",
    "ev_output",
    "ev_cache_read",
    "ev_cache_creation",
    "mp_points",
    "mp_cost",
    "mp_input",
    "mp_output",
    "mp_cache_read",
    "mp_cache_creation",
    "prompts",
    "tool_calls",
    "tool_failures",
    "api_errors",
    "retries_exhausted",
    "refusals",
    "interactions",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
    "active_user_s",
    "active_cli_s",
)
# Earliest and latest: of anything, of api_request events, of cost and token points.
FIRSTS = ("first_ns", "ev_first_ns", "mp_first_ns")
LASTS = ("last_ns", "ev_last_ns", "mp_last_ns")
COLUMNS = ("session_id", "model", "service_name", *FIRSTS, *LASTS, *SUMS)

_INTEGER_SUMS = frozenset(
    {
        "requests", "ev_input", "ev_output", "ev_cache_read", "ev_cache_creation",
        "mp_points", "prompts", "tool_calls", "tool_failures", "api_errors",
        "retries_exhausted", "refusals", "interactions",
    }
)  # fmt: skip
_TYPES = {
    **{c: pa.string() for c in ("session_id", "model", "service_name")},
    **{c: pa.int64() for c in (*FIRSTS, *LASTS)},
    **{c: pa.int64() if c in _INTEGER_SUMS else pa.float64() for c in SUMS},
}


# Up to this many rows a commit's totals are added up in Python: Arrow's ~40 compute calls
# take ~2 ms whatever the size, and each lets go of the GIL, which under load (the listeners'
# threads want it too) can cost the writer a switch interval each time.
SMALL_COMMIT_ROWS = 1_000
_AT = {c: i for i, c in enumerate(COLUMNS)}


def _python_totals(tables: Mapping[str, pa.Table]) -> pa.Table:
    """The same totals as the Arrow functions below, added up in Python."""
    acc: dict[tuple[Any, Any], list[Any]] = {}
    fresh = [None] * (3 + len(FIRSTS) + len(LASTS)) + [0] * len(SUMS)
    first, last = _AT["first_ns"], _AT["last_ns"]

    def entry(session: Any, model: Any, service: Any, start: int, end: int) -> list[Any]:
        row = acc.get((session, model))
        if row is None:
            row = acc[(session, model)] = [session, model, service, *fresh[3:]]
        elif row[2] is None:
            row[2] = service
        row[first] = start if row[first] is None else min(row[first], start)
        row[last] = end if row[last] is None else max(row[last], end)
        return row

    def span(row: list[Any], lo: str, hi: str, t: int) -> None:
        i, j = _AT[lo], _AT[hi]
        row[i] = t if row[i] is None else min(row[i], t)
        row[j] = t if row[j] is None else max(row[j], t)

    def add(row: list[Any], column: str, value: Any) -> None:
        if value is not None:
            row[_AT[column]] += value

    counted = {
        "user_prompt": "prompts",
        "api_error": "api_errors",
        "api_retries_exhausted": "retries_exhausted",
        "api_refusal": "refusals",
    }
    if (rows := tables.get("log_events")) is not None:
        c = rows.select(
            ["session_id", "model", "service_name", "time_ns", "event_name", "cost_usd",
             "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
             "success"]
        ).to_pydict()  # fmt: skip
        for i, t in enumerate(c["time_ns"]):
            row = entry(c["session_id"][i], c["model"][i], c["service_name"][i], t, t)
            name = c["event_name"][i]
            if name == "api_request":
                span(row, "ev_first_ns", "ev_last_ns", t)
                row[_AT["requests"]] += 1
                add(row, "ev_cost", c["cost_usd"][i])
                add(row, "ev_input", c["input_tokens"][i])
                add(row, "ev_output", c["output_tokens"][i])
                add(row, "ev_cache_read", c["cache_read_tokens"][i])
                add(row, "ev_cache_creation", c["cache_creation_tokens"][i])
            elif name == "tool_result":
                row[_AT["tool_calls"]] += 1
                if c["success"][i] is False:
                    row[_AT["tool_failures"]] += 1
            elif name in counted:
                row[_AT[counted[name]]] += 1
    kinds = {
        (TOKEN_METRIC, "input"): "mp_input",
        (TOKEN_METRIC, "output"): "mp_output",
        (TOKEN_METRIC, "cacheRead"): "mp_cache_read",
        (TOKEN_METRIC, "cacheCreation"): "mp_cache_creation",
        (LINES, "added"): "lines_added",
        (LINES, "removed"): "lines_removed",
        (ACTIVE_TIME, "user"): "active_user_s",
        (ACTIVE_TIME, "cli"): "active_cli_s",
    }
    whole = {COST_METRIC: "mp_cost", COMMITS: "commits", PULL_REQUESTS: "pull_requests"}
    if (rows := tables.get("metric_points")) is not None:
        c = rows.select(
            ["session_id", "model", "service_name", "time_ns", "metric_name", "type", "increase"]
        ).to_pydict()
        for i, t in enumerate(c["time_ns"]):
            row = entry(c["session_id"][i], c["model"][i], c["service_name"][i], t, t)
            name, increase = c["metric_name"][i], c["increase"][i]
            if name in (COST_METRIC, TOKEN_METRIC):
                span(row, "mp_first_ns", "mp_last_ns", t)
                row[_AT["mp_points"]] += 1
            column = whole.get(name) or kinds.get((name, c["type"][i]))
            if column is not None:
                add(row, column, increase)
    if (rows := tables.get("spans")) is not None:
        d = rows.select(
            ["session_id", "service_name", "start_ns", "end_ns", "span_type"]
        ).to_pydict()
        for i, start in enumerate(d["start_ns"]):
            row = entry(d["session_id"][i], None, d["service_name"][i], start, d["end_ns"][i])
            if d["span_type"][i] == "interaction":
                row[_AT["interactions"]] += 1
    values = list(acc.values())
    return pa.Table.from_arrays(
        [pa.array([v[i] for v in values], type=_TYPES[n]) for i, n in enumerate(COLUMNS)],
        names=list(COLUMNS),
    )


# An Arrow array or chunked array (pyarrow's stubs type the compute functions too narrowly).
Column = Any


def _is(column: Column, value: str) -> Column:
    return pc.fill_null(pc.equal(column, pa.scalar(value)), pa.scalar(False))


def _when(flag: Column, values: Column, otherwise: float) -> Column:
    return pc.if_else(flag, pc.fill_null(values, otherwise), otherwise)


def _count_of(flag: Column) -> Column:
    return pc.cast(flag, pa.int64())


def _grouped(columns: dict[str, Column]) -> pa.Table:
    """``columns`` (per row) added up per session and model, shaped like ``session_rollup``."""
    rows = pa.table(columns)
    aggregates: list[Any] = [("service_name", "first")]
    aggregates += [(c, "min") for c in FIRSTS if c in columns]
    aggregates += [(c, "max") for c in LASTS if c in columns]
    aggregates += [(c, "sum") for c in SUMS if c in columns]
    grouped = rows.group_by(["session_id", "model"], use_threads=False).aggregate(aggregates)
    names = {f"{c}_{how}": c for c, how in aggregates}
    got = {names.get(n, n): grouped.column(n) for n in grouped.column_names}
    n = grouped.num_rows
    arrays: list[Column] = []
    for c in COLUMNS:
        if c in got:
            arrays.append(pc.cast(got[c], _TYPES[c]))
        elif c in SUMS:
            arrays.append(pa.array([0] * n, type=_TYPES[c]))
        else:
            arrays.append(pa.nulls(n, type=_TYPES[c]))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


def _event_totals(rows: pa.Table) -> pa.Table:
    name = rows.column("event_name")
    request = _is(name, "api_request")
    result = _is(name, "tool_result")
    time_ns = rows.column("time_ns")
    none = pa.scalar(None, pa.int64())
    return _grouped(
        {
            "session_id": rows.column("session_id"),
            "model": rows.column("model"),
            "service_name": rows.column("service_name"),
            "first_ns": time_ns,
            "last_ns": time_ns,
            "ev_first_ns": pc.if_else(request, time_ns, none),
            "ev_last_ns": pc.if_else(request, time_ns, none),
            "requests": _count_of(request),
            "ev_cost": _when(request, rows.column("cost_usd"), 0.0),
            "ev_input": _when(request, rows.column("input_tokens"), 0),
            "ev_output": _when(request, rows.column("output_tokens"), 0),
            "ev_cache_read": _when(request, rows.column("cache_read_tokens"), 0),
            "ev_cache_creation": _when(request, rows.column("cache_creation_tokens"), 0),
            "prompts": _count_of(_is(name, "user_prompt")),
            "tool_calls": _count_of(result),
            "tool_failures": _count_of(
                pc.and_(result, _is(pc.cast(rows.column("success"), pa.string()), "false"))
            ),
            "api_errors": _count_of(_is(name, "api_error")),
            "retries_exhausted": _count_of(_is(name, "api_retries_exhausted")),
            "refusals": _count_of(_is(name, "api_refusal")),
        },
    )


def _point_totals(rows: pa.Table) -> pa.Table:
    name, kind = rows.column("metric_name"), rows.column("type")
    increase = rows.column("increase")
    cost, token = _is(name, COST_METRIC), _is(name, TOKEN_METRIC)
    spend = pc.or_(cost, token)
    time_ns = rows.column("time_ns")
    none = pa.scalar(None, pa.int64())

    def of(metric: Column, of_kind: str | None = None) -> Column:
        flag = metric if of_kind is None else pc.and_(metric, _is(kind, of_kind))
        return _when(flag, increase, 0.0)

    lines = _is(name, LINES)
    active = _is(name, ACTIVE_TIME)
    return _grouped(
        {
            "session_id": rows.column("session_id"),
            "model": rows.column("model"),
            "service_name": rows.column("service_name"),
            "first_ns": time_ns,
            "last_ns": time_ns,
            "mp_first_ns": pc.if_else(spend, time_ns, none),
            "mp_last_ns": pc.if_else(spend, time_ns, none),
            "mp_points": _count_of(spend),
            "mp_cost": of(cost),
            "mp_input": of(token, "input"),
            "mp_output": of(token, "output"),
            "mp_cache_read": of(token, "cacheRead"),
            "mp_cache_creation": of(token, "cacheCreation"),
            "lines_added": of(lines, "added"),
            "lines_removed": of(lines, "removed"),
            "commits": of(_is(name, COMMITS)),
            "pull_requests": of(_is(name, PULL_REQUESTS)),
            "active_user_s": of(active, "user"),
            "active_cli_s": of(active, "cli"),
        },
    )


def _span_totals(rows: pa.Table) -> pa.Table:
    return _grouped(
        {
            "session_id": rows.column("session_id"),
            "model": pa.nulls(rows.num_rows, type=pa.string()),
            "service_name": rows.column("service_name"),
            "first_ns": rows.column("start_ns"),
            "last_ns": rows.column("end_ns"),
            "interactions": _count_of(_is(rows.column("span_type"), "interaction")),
        },
    )


_DELTAS = {"log_events": _event_totals, "metric_points": _point_totals, "spans": _span_totals}


def totals(tables: Mapping[str, pa.Table]) -> pa.Table | None:
    """Per session and model, the totals of ``tables`` (``spans``, ``log_events``,
    ``metric_points`` with their ``increase``; other names are ignored), shaped like
    ``session_rollup``; ``None`` when there are no rows. Added up in Python for a few rows and
    with Arrow for many."""
    chosen = {t: rows for t, rows in tables.items() if t in _DELTAS and rows.num_rows}
    if not chosen:
        return None
    if sum(rows.num_rows for rows in chosen.values()) <= SMALL_COMMIT_ROWS:
        return _python_totals(chosen)
    return pa.concat_tables([_DELTAS[t](rows) for t, rows in chosen.items()])
