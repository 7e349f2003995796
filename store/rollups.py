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

from collections.abc import Iterable, Mapping, Sequence

import duckdb
import pyarrow as pa

from otelwatch.store.rollup_totals import (
    ACTIVE_TIME,
    COLUMNS,
    COMMITS,
    COST_METRIC,
    FIRSTS,
    LASTS,
    LINES,
    PULL_REQUESTS,
    SUMS,
    TOKEN_METRIC,
    totals,
)


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


def add(
    conn: duckdb.DuckDBPyConnection,
    inserted: Mapping[str, pa.Table],
    ready: Sequence[pa.Table] = (),
) -> None:
    """Add the rows one commit inserts to the totals; call inside that commit's transaction.

    ``inserted`` maps a table name (``spans``, ``log_events``, ``metric_points``) to the Arrow
    table of inserted rows whose totals are still to be computed (the metric points with their
    ``increase``); other tables are ignored. ``ready`` holds totals already computed elsewhere
    (by decoder processes, :func:`otelwatch.store.rollup_totals.totals`) for the other inserted
    rows. The totals are computed in Python or Arrow, not in SQL: planning a query of this size
    costs DuckDB several milliseconds.
    """
    parts = [t for t in (*ready, totals(inserted)) if t is not None and t.num_rows]
    if not parts:
        return
    delta = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
    sizes = _sizes.get(id(conn))
    if sizes is None:
        sizes = _sizes[id(conn)] = [_count(conn), 0]
    # DuckDB finds the Arrow table by its variable name (a replacement scan): registering it
    # would take two more statements, one of which fails inside an aborted transaction.
    conn.execute(_INSERT + "SELECT * FROM delta").fetchall()
    sizes[1] += delta.num_rows
    if sizes[1] > max(COMPACT_AFTER_ROWS, sizes[0] // 4):
        sizes[:] = [compact(conn), 0]


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
