"""Per-session totals kept up to date by the writer, so the dashboard never adds up a million rows.

``session_rollup`` has one row per session and model (``NULL`` for either when the items had
none): what its ``api_request`` events and its cost and token metric points spent, what else it
did (prompts, tool calls, failures, activity metrics, interaction spans), and when it was first
and last seen. The Overview's totals and the Sessions list read it instead of the raw tables.

It stays exactly equal to aggregating the raw tables, because every change to those goes
through here too:

- the writer adds each commit's rows (after its duplicate filter) in the same transaction as
  the insert (:func:`add`), so a reader never sees one without the other;
- retention recomputes the rows of the sessions it deleted from (:func:`rebuild`), in the same
  transaction as the delete;
- ``store/sql/0003_session_rollup.sql`` fills it for a database written before it existed.

Metric totals use ``increase`` (right for DELTA and CUMULATIVE sums alike), and the events and
the metrics are kept apart, so a query can price each session from one source only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import duckdb

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


# The totals of the rows of `{events}`, `{points}` and `{spans}` (tables, or the Arrow tables of
# one commit) that pass `{where}`, one row per session and model. Spans count under model NULL:
# only their session's times and interactions are used.
AGGREGATE = f"""
SELECT session_id, model, any_value(service_name) AS service_name,
       min(first_ns) AS first_ns, min(ev_first_ns) AS ev_first_ns,
       min(mp_first_ns) AS mp_first_ns,
       max(last_ns) AS last_ns, max(ev_last_ns) AS ev_last_ns, max(mp_last_ns) AS mp_last_ns,
       {", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in SUMS)}
FROM (
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
    FROM {{events}} WHERE {{where}}
    GROUP BY session_id, model
    UNION ALL BY NAME
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
    FROM {{points}} WHERE {{where}}
    GROUP BY session_id, model
    UNION ALL BY NAME
    SELECT session_id, NULL::VARCHAR AS model, any_value(service_name) AS service_name,
           min(start_ns) AS first_ns, max(end_ns) AS last_ns,
           count(*) FILTER (WHERE span_type = 'interaction') AS interactions
    FROM {{spans}} WHERE {{where}}
    GROUP BY session_id
)
GROUP BY session_id, model
"""

_SAME_KEY = (
    "r.session_id IS NOT DISTINCT FROM d.session_id AND r.model IS NOT DISTINCT FROM d.model"
)
_UPDATE = ", ".join(
    [
        "service_name = coalesce(r.service_name, d.service_name)",
        *(f"{c} = least(r.{c}, d.{c})" for c in FIRSTS),
        *(f"{c} = greatest(r.{c}, d.{c})" for c in LASTS),
        *(f"{c} = r.{c} + d.{c}" for c in SUMS),
    ]
)
_MERGE = f"""
MERGE INTO session_rollup r
USING ({{aggregate}}) d
ON ({_SAME_KEY})
WHEN MATCHED THEN UPDATE SET {_UPDATE}
WHEN NOT MATCHED THEN INSERT ({", ".join(COLUMNS)}) VALUES ({", ".join(f"d.{c}" for c in COLUMNS)})
"""

_TABLE_NAMES = {"events": "log_events", "points": "metric_points", "spans": "spans"}


def add(conn: duckdb.DuckDBPyConnection, inserted: Mapping[str, str]) -> None:
    """Add the rows one commit inserts to the totals; call inside that commit's transaction.

    ``inserted`` maps a table name (``spans``, ``log_events``, ``metric_points``) to the
    relation holding the rows inserted into it (the writer's registered Arrow table); a table
    without rows in this commit is left out.
    """
    if not any(table in inserted for table in _TABLE_NAMES.values()):
        return
    sources = {}
    for key, table in _TABLE_NAMES.items():
        # An empty relation with the table's columns stands for a table without new rows.
        sources[key] = inserted.get(table) or f"(SELECT * FROM {table} LIMIT 0)"
    aggregate = AGGREGATE.format(where="TRUE", **sources)
    conn.execute(_MERGE.format(aggregate=aggregate))


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
    conn.execute(f"DELETE FROM session_rollup WHERE {where}", params)
    sources = dict(_TABLE_NAMES)
    conn.execute(
        f"INSERT INTO session_rollup ({', '.join(COLUMNS)}) "
        + AGGREGATE.format(where=where, **sources),
        params,
    )


def rebuild_all(conn: duckdb.DuckDBPyConnection) -> None:
    """Recompute every total from the raw tables (after rows were written around the writer,
    as the benchmarks' database builder does)."""
    sources = dict(_TABLE_NAMES)
    conn.execute("DELETE FROM session_rollup")
    conn.execute(
        f"INSERT INTO session_rollup ({', '.join(COLUMNS)}) "
        + AGGREGATE.format(where="TRUE", **sources)
    )
