"""Per-session totals kept up to date by the writer, so the dashboard never adds up a million rows.

``session_rollup`` has rows per session and model (``NULL`` for either when the items had
none): what its ``api_request`` events and its cost and token metric points spent, what else it
did (prompts, tool calls, failures, activity metrics, interaction spans), and when it was first
and last seen. The Overview's totals and the Sessions list read it instead of the raw tables.

It stays exactly equal to aggregating the raw tables, because every change to those goes
through here too:

- the writer appends each commit's totals (of its rows after the duplicate filter) in the same
  transaction as the insert (:func:`add`), so a reader never sees one without the other. Several
  rows may hold the same session and model; every query adds them up, and :func:`compact` folds
  them into one once they are many (appending costs ~1.6 ms a commit at a million items, merging
  into the existing rows cost ~16 ms);
- retention recomputes the rows of the sessions it deleted from (:func:`rebuild`), in the same
  transaction as the delete;
- ``store/sql/0003_session_rollup.sql`` fills it for a database written before it existed.

Metric totals use ``increase`` (right for DELTA and CUMULATIVE sums alike), and the events and
the metrics are kept apart, so a query can price each session from one source only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
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


def _token(column: str, kind: str) -> str:
    return (
        f"coalesce(sum(increase) FILTER (WHERE metric_name = '{TOKEN_METRIC}'"
        f" AND \"type\" = '{kind}'), 0) AS {column}"
    )


def _metric(column: str, name: str, kind: str | None = None) -> str:
    where = f"metric_name = '{name}'" + (f" AND \"type\" = '{kind}'" if kind else "")
    return f"coalesce(sum(increase) FILTER (WHERE {where}), 0) AS {column}"


# Each table's totals per session and model, of the rows of `{source}` (the table, or the Arrow
# table of one commit) that pass `{where}`. Spans count under model NULL: only their session's
# times and interactions are used.
_EVENTS = """
    SELECT session_id, model, any_value(service_name) AS service_name,
           min(time_ns) AS first_ns, max(time_ns) AS last_ns,
           min(time_ns) FILTER (WHERE event_name = 'api_request') AS ev_first_ns,
           max(time_ns) FILTER (WHERE event_name = 'api_request') AS ev_last_ns,
           count(*) FILTER (WHERE event_name = 'api_request') AS requests,
           coalesce(sum(cost_usd) FILTER (WHERE event_name = 'api_request'), 0) AS ev_cost,
           coalesce(sum(input_tokens) FILTER (WHERE event_name = 'api_request'), 0) AS ev_input,
           coalesce(sum(output_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_output,
           coalesce(sum(cache_read_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_cache_read,
           coalesce(sum(cache_creation_tokens) FILTER (WHERE event_name = 'api_request'), 0)
               AS ev_cache_creation,
           count(*) FILTER (WHERE event_name = 'user_prompt') AS prompts,
           count(*) FILTER (WHERE event_name = 'tool_result') AS tool_calls,
           count(*) FILTER (WHERE event_name = 'tool_result' AND success = FALSE)
               AS tool_failures,
           count(*) FILTER (WHERE event_name = 'api_error') AS api_errors,
           count(*) FILTER (WHERE event_name = 'api_retries_exhausted') AS retries_exhausted,
           count(*) FILTER (WHERE event_name = 'api_refusal') AS refusals
    FROM {source} WHERE {where}
    GROUP BY session_id, model
"""
_POINTS = f"""
    SELECT session_id, model, any_value(service_name) AS service_name,
           min(time_ns) AS first_ns, max(time_ns) AS last_ns,
           min(time_ns) FILTER (WHERE metric_name IN ('{COST_METRIC}', '{TOKEN_METRIC}'))
               AS mp_first_ns,
           max(time_ns) FILTER (WHERE metric_name IN ('{COST_METRIC}', '{TOKEN_METRIC}'))
               AS mp_last_ns,
           count(*) FILTER (WHERE metric_name IN ('{COST_METRIC}', '{TOKEN_METRIC}'))
               AS mp_points,
           {_metric("mp_cost", COST_METRIC)},
           {_token("mp_input", "input")}, {_token("mp_output", "output")},
           {_token("mp_cache_read", "cacheRead")},
           {_token("mp_cache_creation", "cacheCreation")},
           {_metric("lines_added", LINES, "added")},
           {_metric("lines_removed", LINES, "removed")},
           {_metric("commits", COMMITS)}, {_metric("pull_requests", PULL_REQUESTS)},
           {_metric("active_user_s", ACTIVE_TIME, "user")},
           {_metric("active_cli_s", ACTIVE_TIME, "cli")}
    FROM {{source}} WHERE {{where}}
    GROUP BY session_id, model
"""
_SPANS = """
    SELECT session_id, NULL::VARCHAR AS model, any_value(service_name) AS service_name,
           min(start_ns) AS first_ns, max(end_ns) AS last_ns,
           count(*) FILTER (WHERE span_type = 'interaction') AS interactions
    FROM {source} WHERE {where}
    GROUP BY session_id
"""
_PER_TABLE = {"log_events": _EVENTS, "metric_points": _POINTS, "spans": _SPANS}
_OUTPUTS = {
    "log_events": {
        "ev_first_ns", "ev_last_ns", "requests", "ev_cost", "ev_input", "ev_output",
        "ev_cache_read", "ev_cache_creation", "prompts", "tool_calls", "tool_failures",
        "api_errors", "retries_exhausted", "refusals",
    },
    "metric_points": {
        "mp_first_ns", "mp_last_ns", "mp_points", "mp_cost", "mp_input", "mp_output",
        "mp_cache_read", "mp_cache_creation", "lines_added", "lines_removed", "commits",
        "pull_requests", "active_user_s", "active_cli_s",
    },
    "spans": {"interactions"},
}  # fmt: skip


def _rows_of(table: str, source: str, where: str = "TRUE") -> str:
    """One table's totals with every column of ``session_rollup``, in its order."""
    have = {"session_id", "model", "service_name", "first_ns", "last_ns", *_OUTPUTS[table]}
    columns = [
        c if c in have else f"{'0' if c in SUMS else 'NULL::BIGINT'} AS {c}" for c in COLUMNS
    ]
    inner = _PER_TABLE[table].format(source=source, where=where)
    return f"SELECT {', '.join(columns)} FROM ({inner})"


def compacted(relation: str) -> str:
    """Rows of ``session_rollup`` shape in ``relation``, added up to one per session and
    model."""
    return f"""
    SELECT session_id, model, any_value(service_name) AS service_name,
           {", ".join(f"min({c}) AS {c}" for c in FIRSTS)},
           {", ".join(f"max({c}) AS {c}" for c in LASTS)},
           {", ".join(f"sum({c}) AS {c}" for c in SUMS)}
    FROM {relation}
    GROUP BY session_id, model
    """


def aggregate(where: str = "TRUE") -> str:
    """The totals of the raw tables' rows that pass ``where``, one row per session and model."""
    union = " UNION ALL ".join(_rows_of(table, table, where) for table in _PER_TABLE)
    return compacted(f"({union})")


_INSERT = f"INSERT INTO session_rollup ({', '.join(COLUMNS)}) "
# The writer appends each commit's totals as new rows (a merge into the existing rows cost
# ~16 ms a commit at a million items); every query adds them up by session and model anyway.
# When the appended rows reach a quarter of the table (and at least this many), they are
# folded in.
COMPACT_AFTER_ROWS = 5_000
# Per connection: rows in the table after the last fold, and rows appended since.
_sizes: dict[int, list[int]] = {}

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


def add(conn: duckdb.DuckDBPyConnection, inserted: Mapping[str, pa.Table]) -> None:
    """Add the rows one commit inserts to the totals; call inside that commit's transaction.

    ``inserted`` maps a table name (``spans``, ``log_events``, ``metric_points``) to the Arrow
    table of the rows inserted into it (the metric points with their ``increase``); other
    tables are ignored. The totals are computed in Python for a small commit and with Arrow for
    a large one, not in SQL: planning a query of this size costs DuckDB several milliseconds.
    """
    tables = {t: rows for t, rows in inserted.items() if t in _DELTAS and rows.num_rows}
    if not tables:
        return
    if sum(rows.num_rows for rows in tables.values()) <= SMALL_COMMIT_ROWS:
        delta = _python_totals(tables)
    else:
        delta = pa.concat_tables([_DELTAS[t](rows) for t, rows in tables.items()])
    sizes = _sizes.get(id(conn))
    if sizes is None:
        sizes = _sizes[id(conn)] = [_count(conn), 0]
    # DuckDB finds the Arrow table by its variable name (a replacement scan): registering it
    # would take two more statements, one of which fails inside an aborted transaction.
    conn.execute(_INSERT + "SELECT * FROM delta").fetchall()
    sizes[1] += delta.num_rows
    if sizes[1] > max(COMPACT_AFTER_ROWS, sizes[0] // 4):
        sizes[:] = [compact(conn), 0]


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


def compact(conn: duckdb.DuckDBPyConnection) -> int:
    """Fold the rows of ``session_rollup`` into one per session and model; returns how many
    are left. Call inside a transaction."""
    # fetchall: DuckDB refuses the next statement while a result is not read to the end.
    top = conn.execute("SELECT max(rowid) FROM session_rollup").fetchall()[0]
    if top[0] is None:
        return 0
    # The folded rows are appended after the old ones, which then go.
    old = f"(SELECT * FROM session_rollup WHERE rowid <= {int(top[0])})"
    conn.execute(_INSERT + compacted(old)).fetchall()
    conn.execute(f"DELETE FROM session_rollup WHERE rowid <= {int(top[0])}").fetchall()
    return _count(conn)


def _count(conn: duckdb.DuckDBPyConnection) -> int:
    return int(conn.execute("SELECT count(*) FROM session_rollup").fetchall()[0][0])


def rebuild(conn: duckdb.DuckDBPyConnection, sessions: Iterable[str | None]) -> None:
    """Recompute the totals of ``sessions`` (``None``: items without a session) from the raw
    tables; call inside the transaction that changed their rows (retention's deletes)."""
    chosen = set(sessions)
    if not chosen:
        return
    named = sorted(s for s in chosen if s is not None)
    # A semi-join: list_contains would compare every row with every session.
    where = (
        "(session_id IN (SELECT unnest($sessions::VARCHAR[])) OR ($nulls AND session_id IS NULL))"
    )
    params = {"sessions": named, "nulls": None in chosen}
    conn.execute(f"DELETE FROM session_rollup WHERE {where}", params).fetchall()
    conn.execute(_INSERT + aggregate(where), params).fetchall()


def rebuild_all(conn: duckdb.DuckDBPyConnection) -> None:
    """Recompute every total from the raw tables (after rows were written around the writer,
    as the benchmarks' database builder does)."""
    conn.execute("DELETE FROM session_rollup").fetchall()
    conn.execute(_INSERT + aggregate()).fetchall()
