"""The Overview: cost, tokens, tools, API health and activity, for all sessions or one.

Cost and tokens are reported twice by Claude Code: in ``api_request`` events and in the
``claude_code.cost.usage`` / ``claude_code.token.usage`` metrics. They describe the same spend, so
each session's figures come from exactly one of them: its ``api_request`` events when it sent any,
its metrics otherwise (events may be switched off while metrics are on). :class:`UsageSource`
says how many sessions each source covered. Metric totals are ``SUM(increase)``, which the writer
made right for DELTA and CUMULATIVE senders alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otelwatch.store.queries.base import QueryBase
from otelwatch.store.rollups import COST_METRIC, TOKEN_METRIC

_NS_PER_S = 1_000_000_000

# The rows that carry spend, one source per session. `{where_e}` / `{where_m}` narrow the events
# and the metric points (to one session); the parameters repeat in that order.
_SPEND = f"""
    WITH ev AS (
        SELECT coalesce(session_id, '') AS sid, model, time_ns, cost_usd AS cost,
               input_tokens AS input, output_tokens AS output,
               cache_read_tokens AS cache_read, cache_creation_tokens AS cache_creation,
               1 AS requests
        FROM log_events
        WHERE event_name = 'api_request' {{where_e}}
    ),
    ev_sessions AS (SELECT DISTINCT sid FROM ev),
    mp AS (
        SELECT coalesce(session_id, '') AS sid, model, time_ns,
               CASE WHEN metric_name = '{COST_METRIC}' THEN increase END AS cost,
               CASE WHEN metric_name = '{TOKEN_METRIC}' AND "type" = 'input'
                    THEN increase END AS input,
               CASE WHEN metric_name = '{TOKEN_METRIC}' AND "type" = 'output'
                    THEN increase END AS output,
               CASE WHEN metric_name = '{TOKEN_METRIC}' AND "type" = 'cacheRead'
                    THEN increase END AS cache_read,
               CASE WHEN metric_name = '{TOKEN_METRIC}' AND "type" = 'cacheCreation'
                    THEN increase END AS cache_creation,
               0 AS requests
        FROM metric_points
        WHERE metric_name IN ('{COST_METRIC}', '{TOKEN_METRIC}') {{where_m}}
          AND coalesce(session_id, '') NOT IN (SELECT sid FROM ev_sessions)
    ),
    spend AS (
        SELECT *, TRUE AS from_events FROM ev
        UNION ALL
        SELECT *, FALSE AS from_events FROM mp
    )
"""


def spend_cte(session_id: str | None) -> tuple[str, list[Any]]:
    """The ``WITH … spend`` clause and its parameters, for all sessions or one.

    ``spend`` has one row per priced thing (an ``api_request`` event, or a cost or token metric
    point of a session without such events): ``sid, model, time_ns, cost, input, output,
    cache_read, cache_creation, requests, from_events``.
    """
    if session_id is None:
        return _SPEND.format(where_e="", where_m=""), []
    sql = _SPEND.format(where_e="AND session_id = ?", where_m="AND session_id = ?")
    return sql, [session_id, session_id]


def _scope(session_id: str | None, column: str = "session_id") -> tuple[str, list[Any]]:
    if session_id is None:
        return "", []
    return f"AND {column} = ?", [session_id]


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Spend of one model: cost and the four kinds of tokens."""

    model: str | None
    cost_usd: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    requests: int
    """``api_request`` events counted; 0 where the figures come from metrics."""

    @property
    def total_tokens(self) -> int:
        """All four kinds added up."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_creation_tokens
        )

    @property
    def cache_hit_ratio(self) -> float | None:
        """cacheRead / (input + cacheRead + cacheCreation); ``None`` with no input at all."""
        return cache_hit_ratio(
            self.input_tokens, self.cache_read_tokens, self.cache_creation_tokens
        )


def cache_hit_ratio(input_tokens: int, cache_read: int, cache_creation: int) -> float | None:
    """The share of prompt tokens served from the cache; ``None`` when there were none."""
    prompt = input_tokens + cache_read + cache_creation
    return cache_read / prompt if prompt else None


@dataclass(frozen=True, slots=True)
class UsageSource:
    """Where the cost and token figures came from, counted in sessions."""

    event_sessions: int
    """Sessions priced from their ``api_request`` events."""
    metric_sessions: int
    """Sessions without ``api_request`` events, priced from the cost and token metrics."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Cost and tokens by model, most expensive first, and where they came from."""

    by_model: tuple[ModelUsage, ...]
    source: UsageSource
    first_ns: int | None
    """The time of the first priced item; ``None`` when nothing was priced."""
    last_ns: int | None

    @property
    def total(self) -> ModelUsage:
        """Every model added up (``model`` is ``None``)."""
        rows = self.by_model
        return ModelUsage(
            model=None,
            cost_usd=sum(r.cost_usd for r in rows),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cache_read_tokens=sum(r.cache_read_tokens for r in rows),
            cache_creation_tokens=sum(r.cache_creation_tokens for r in rows),
            requests=sum(r.requests for r in rows),
        )


@dataclass(frozen=True, slots=True)
class CostSeries:
    """Cost per time bucket: ``values[i]`` is spent in ``[start_ns + i*bucket_ns, +bucket_ns)``."""

    start_ns: int
    bucket_ns: int
    values: tuple[float, ...]

    @property
    def end_ns(self) -> int:
        """The end of the last bucket."""
        return self.start_ns + self.bucket_ns * len(self.values)

    def spent_since(self, since_ns: int) -> float:
        """Cost in the buckets that start at or after ``since_ns``."""
        if self.bucket_ns <= 0:
            return 0.0
        first = max(0, -(-(since_ns - self.start_ns) // self.bucket_ns))
        return sum(self.values[first:])


@dataclass(frozen=True, slots=True)
class ToolStats:
    """What one tool did: calls (``tool_result`` events), failures, durations, decisions."""

    tool_name: str
    calls: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    accepts: int
    rejects: int

    @property
    def success_rate(self) -> float | None:
        """Share of calls that succeeded; ``None`` without calls."""
        return (self.calls - self.failures) / self.calls if self.calls else None


@dataclass(frozen=True, slots=True)
class DecisionCount:
    """How many ``tool_decision`` events had this decision and source."""

    decision: str
    source: str
    count: int


@dataclass(frozen=True, slots=True)
class ApiHealth:
    """Model requests: how many, how many failed, how fast."""

    requests: int
    errors: int
    """``api_error`` events: requests that failed after Claude Code's own retries."""
    retries_exhausted: int
    refusals: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """Errors over all attempts that ended (successes and errors)."""
        ended = self.requests + self.errors
        return self.errors / ended if ended else None


@dataclass(frozen=True, slots=True)
class Activity:
    """What the sessions produced and how long they were busy (metrics, and prompts)."""

    lines_added: float
    lines_removed: float
    commits: float
    pull_requests: float
    active_user_s: float
    active_cli_s: float
    prompts: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that went wrong: a failed request or tool call, a refusal, a rejected tool."""

    time_ns: int
    session_id: str | None
    event_name: str
    subject: str | None
    """The tool or the model."""
    detail: str | None
    """The error message, or who rejected the tool."""


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the Overview view shows, read at one time."""

    has_data: bool
    """Whether the database holds anything at all (else the view says how to connect)."""
    now_ns: int
    usage: Usage
    recent: CostSeries
    """Cost per 10 s over the hour before ``now_ns``: the burn rates."""
    timeline: CostSeries
    """Cost over the scope's own period, for the sparkline."""
    tools: tuple[ToolStats, ...]
    decisions: tuple[DecisionCount, ...]
    api: ApiHealth
    activity: Activity
    problems: tuple[Problem, ...]


RECENT_BUCKET_NS = 10 * _NS_PER_S
RECENT_SPAN_NS = 3600 * _NS_PER_S
# The sparkline covers at least this much (a new session does not fill it with one request),
# and at most a day.
MIN_TIMELINE_NS = 300 * _NS_PER_S
MAX_TIMELINE_NS = 86400 * _NS_PER_S


def timeline_window(first_ns: int | None, last_ns: int | None, now_ns: int) -> tuple[int, int]:
    """``(start_ns, end_ns)`` of the sparkline.

    It ends now while the data is recent (within the hour), so it scrolls as time passes; for
    older data (browsing a saved database) it ends just after the last item. It starts at the
    first item, so the graph uses its whole width: at least 5 minutes, at most a day.
    """
    if last_ns is None or first_ns is None:
        return now_ns - MIN_TIMELINE_NS, now_ns
    end = now_ns if last_ns >= now_ns - RECENT_SPAN_NS else last_ns + 1
    span = min(MAX_TIMELINE_NS, max(MIN_TIMELINE_NS, end - first_ns))
    return end - span, end


class OverviewQueries(QueryBase):
    """Queries of the Overview view."""

    def has_data(self) -> bool:
        """Whether any span, event or metric point is stored."""
        with self._cursor() as cur:
            row = cur.execute(
                """
                SELECT EXISTS (SELECT 1 FROM log_events) OR EXISTS (SELECT 1 FROM metric_points)
                       OR EXISTS (SELECT 1 FROM spans)
                """
            ).fetchone()
        return bool(row and row[0])

    def usage(self, session_id: str | None = None, limit: int = 50) -> Usage:
        """Cost and tokens by model (one source per session; see the module's docstring)."""
        scope, params = _scope(session_id)
        scope_r, _ = _scope(session_id, "r.session_id")
        with self._cursor() as cur:
            # From the per-session totals the writer keeps (store/rollups.py): a few rows per
            # session rather than every event. A row per model, and the grand total row
            # (model_total = 1) that counts the sessions of each source. Each session's source
            # comes from a GROUP BY joined back: a third faster than a window over the rows.
            rows = cur.execute(
                f"""
                WITH src AS (
                    SELECT coalesce(session_id, '') AS sid, sum(requests) > 0 AS from_events,
                           sum(mp_points) > 0 AS has_points
                    FROM session_rollup WHERE TRUE {scope} GROUP BY 1
                ),
                spend AS (
                    SELECT model, from_events,
                           CASE WHEN from_events THEN ev_cost ELSE mp_cost END AS cost,
                           CASE WHEN from_events THEN ev_input ELSE mp_input END AS input,
                           CASE WHEN from_events THEN ev_output ELSE mp_output END AS output,
                           CASE WHEN from_events THEN ev_cache_read ELSE mp_cache_read END
                               AS cache_read,
                           CASE WHEN from_events THEN ev_cache_creation
                                ELSE mp_cache_creation END AS cache_creation,
                           CASE WHEN from_events THEN requests ELSE 0 END AS requests,
                           CASE WHEN from_events THEN ev_first_ns ELSE mp_first_ns END
                               AS first_ns,
                           CASE WHEN from_events THEN ev_last_ns ELSE mp_last_ns END AS last_ns
                    FROM session_rollup r JOIN src ON coalesce(r.session_id, '') = src.sid
                    WHERE CASE WHEN from_events THEN requests > 0 ELSE mp_points > 0 END
                          {scope_r}
                ),
                by_model AS (
                    SELECT model, sum(cost) AS cost, sum(input) AS input,
                           sum(output) AS output, sum(cache_read) AS cache_read,
                           sum(cache_creation) AS cache_creation, sum(requests) AS requests,
                           min(first_ns) AS first_ns, max(last_ns) AS last_ns
                    FROM spend GROUP BY model
                )
                SELECT model, cost, input, output, cache_read, cache_creation, requests,
                       first_ns, last_ns, 0, 0, 0 AS model_total
                FROM by_model
                UNION ALL
                SELECT NULL, coalesce(sum(cost), 0), coalesce(sum(input), 0),
                       coalesce(sum(output), 0), coalesce(sum(cache_read), 0),
                       coalesce(sum(cache_creation), 0), sum(requests),
                       min(first_ns), max(last_ns),
                       (SELECT count(*) FILTER (WHERE from_events) FROM src),
                       (SELECT count(*) FILTER (WHERE has_points AND NOT from_events) FROM src),
                       1
                FROM by_model
                ORDER BY model_total DESC, 2 DESC, 1
                LIMIT ?
                """,
                [*params, *params, limit + 1],
            ).fetchall()
        total = rows[0] if rows and rows[0][11] == 1 else None
        by_model = tuple(
            ModelUsage(
                model=r[0],
                cost_usd=float(r[1]),
                input_tokens=round(r[2]),
                output_tokens=round(r[3]),
                cache_read_tokens=round(r[4]),
                cache_creation_tokens=round(r[5]),
                requests=int(r[6] or 0),
            )
            for r in rows
            if r[11] == 0
        )
        return Usage(
            by_model=by_model,
            source=UsageSource(
                event_sessions=total[9] if total else 0, metric_sessions=total[10] if total else 0
            ),
            first_ns=total[7] if total else None,
            last_ns=total[8] if total else None,
        )

    def cost_series(
        self, session_id: str | None, start_ns: int, end_ns: int, buckets: int
    ) -> CostSeries:
        """Cost per bucket between ``start_ns`` and ``end_ns`` (``buckets`` equal buckets)."""
        buckets = max(1, buckets)
        bucket_ns = max(1, -(-(end_ns - start_ns) // buckets))
        spend, params = spend_cte(session_id)
        with self._cursor() as cur:
            rows = cur.execute(
                f"""
                {spend}
                SELECT least((time_ns - ?) // ?, ?) AS bucket, sum(cost)
                FROM spend
                WHERE time_ns >= ? AND time_ns <= ? AND cost IS NOT NULL
                GROUP BY bucket
                """,
                [*params, start_ns, bucket_ns, buckets - 1, start_ns, end_ns],
            ).fetchall()
        values = [0.0] * buckets
        for bucket, cost in rows:
            values[int(bucket)] += float(cost)
        return CostSeries(start_ns=start_ns, bucket_ns=bucket_ns, values=tuple(values))

    def tool_stats(self, session_id: str | None = None, limit: int = 50) -> list[ToolStats]:
        """Per tool: calls, failures and p50/p95 duration (``tool_result``), and decisions
        (``tool_decision``); most called first."""
        scope, params = _scope(session_id)
        with self._cursor() as cur:
            # Calls and decisions apart, then joined: one pass with FILTERed aggregates over
            # both kinds of events took twice as long (docs/benchmarks.md).
            rows = cur.execute(
                f"""
                WITH calls AS (
                    SELECT tool_name, count(*) AS calls,
                           count(*) FILTER (WHERE success = FALSE) AS failures,
                           quantile_cont(duration_ms, [0.5, 0.95]) AS q
                    FROM log_events
                    WHERE event_name = 'tool_result' AND tool_name IS NOT NULL {scope}
                    GROUP BY tool_name
                ),
                decisions AS (
                    SELECT tool_name, count(*) FILTER (WHERE decision = 'accept') AS accepts,
                           count(*) FILTER (WHERE decision = 'reject') AS rejects
                    FROM log_events
                    WHERE event_name = 'tool_decision' AND tool_name IS NOT NULL {scope}
                    GROUP BY tool_name
                )
                SELECT tool_name, coalesce(calls, 0), coalesce(failures, 0), q[1], q[2],
                       coalesce(accepts, 0), coalesce(rejects, 0)
                FROM calls FULL JOIN decisions USING (tool_name)
                ORDER BY 2 DESC, 6 + 7 DESC, 1
                LIMIT ?
                """,
                [*params, *params, limit],
            ).fetchall()
        return [ToolStats(*row) for row in rows]

    def decision_counts(self, session_id: str | None = None) -> list[DecisionCount]:
        """``tool_decision`` events by decision and source, most frequent first."""
        scope, params = _scope(session_id)
        with self._cursor() as cur:
            rows = cur.execute(
                f"""
                SELECT coalesce(decision, '?'), coalesce(decision_source, '?'), count(*)
                FROM log_events
                WHERE event_name = 'tool_decision' {scope}
                GROUP BY ALL
                ORDER BY 3 DESC, 1, 2
                LIMIT 20
                """,
                params,
            ).fetchall()
        return [DecisionCount(*row) for row in rows]

    def api_health(self, session_id: str | None = None) -> ApiHealth:
        """Requests, errors, retries exhausted, refusals; p50/p95 latency and time to first
        token of the successful requests."""
        scope, params = _scope(session_id)
        with self._cursor() as cur:
            # The counts from the per-session totals, the percentiles from the events.
            row = cur.execute(
                f"""
                SELECT (SELECT coalesce(sum(requests), 0) FROM session_rollup WHERE TRUE {scope}),
                       (SELECT coalesce(sum(api_errors), 0) FROM session_rollup
                        WHERE TRUE {scope}),
                       (SELECT coalesce(sum(retries_exhausted), 0) FROM session_rollup
                        WHERE TRUE {scope}),
                       (SELECT coalesce(sum(refusals), 0) FROM session_rollup WHERE TRUE {scope}),
                       quantile_cont(duration_ms, [0.5, 0.95]),
                       quantile_cont(ttft_ms, [0.5, 0.95])
                FROM log_events
                WHERE event_name = 'api_request' {scope}
                """,
                [*params * 5],
            ).fetchone()
        assert row is not None
        latency = row[4] or [None, None]
        ttft = row[5] or [None, None]
        return ApiHealth(
            requests=int(row[0]),
            errors=int(row[1]),
            retries_exhausted=int(row[2]),
            refusals=int(row[3]),
            latency_p50_ms=latency[0],
            latency_p95_ms=latency[1],
            ttft_p50_ms=ttft[0],
            ttft_p95_ms=ttft[1],
        )

    def activity(self, session_id: str | None = None) -> Activity:
        """Lines added and removed, commits, pull requests, active time (metrics, as
        ``SUM(increase)``), and prompts (``user_prompt`` events)."""
        scope, params = _scope(session_id)
        with self._cursor() as cur:
            row = cur.execute(
                f"""
                SELECT coalesce(sum(lines_added), 0), coalesce(sum(lines_removed), 0),
                       coalesce(sum(commits), 0), coalesce(sum(pull_requests), 0),
                       coalesce(sum(active_user_s), 0), coalesce(sum(active_cli_s), 0),
                       coalesce(sum(prompts), 0)
                FROM session_rollup
                WHERE TRUE {scope}
                """,
                params,
            ).fetchone()
        assert row is not None
        return Activity(
            lines_added=float(row[0]),
            lines_removed=float(row[1]),
            commits=float(row[2]),
            pull_requests=float(row[3]),
            active_user_s=float(row[4]),
            active_cli_s=float(row[5]),
            prompts=int(row[6]),
        )

    def problems(self, session_id: str | None = None, limit: int = 20) -> list[Problem]:
        """The latest failures, newest first: API errors, exhausted retries, refusals, failed
        tool calls and rejected tools."""
        scope, params = _scope(session_id)
        with self._cursor() as cur:
            rows = cur.execute(
                f"""
                SELECT time_ns, session_id, event_name, coalesce(tool_name, model),
                       CASE event_name
                           WHEN 'api_error' THEN coalesce(attributes->>'error',
                                                          attributes->>'status_code')
                           WHEN 'api_retries_exhausted' THEN 'gave up after '
                               || coalesce(attributes->>'total_attempts', '?') || ' attempts'
                           WHEN 'api_refusal' THEN 'refused'
                           WHEN 'tool_result' THEN coalesce(attributes->>'error', 'failed')
                           WHEN 'tool_decision' THEN 'by ' || coalesce(decision_source, '?')
                       END
                FROM log_events
                WHERE (event_name IN ('api_error', 'api_retries_exhausted', 'api_refusal')
                       OR (event_name = 'tool_result' AND success = FALSE)
                       OR (event_name = 'tool_decision' AND decision = 'reject')) {scope}
                ORDER BY time_ns DESC
                LIMIT ?
                """,
                [*params, limit],
            ).fetchall()
        return [Problem(*row) for row in rows]

    def overview(self, session_id: str | None, now_ns: int, spark_buckets: int = 60) -> Overview:
        """Every panel of the Overview, for all sessions (``None``) or one, as of ``now_ns``.

        The panels' queries share one snapshot, so they agree with each other.
        """
        with self.snapshot():
            return self._overview(session_id, now_ns, spark_buckets)

    def _overview(self, session_id: str | None, now_ns: int, spark_buckets: int) -> Overview:
        usage = self.usage(session_id)
        start, end = timeline_window(usage.first_ns, usage.last_ns, now_ns)
        return Overview(
            has_data=usage.first_ns is not None or self.has_data(),
            now_ns=now_ns,
            usage=usage,
            recent=self.cost_series(
                session_id,
                now_ns - RECENT_SPAN_NS,
                now_ns,
                RECENT_SPAN_NS // RECENT_BUCKET_NS,
            ),
            timeline=self.cost_series(session_id, start, end, spark_buckets),
            tools=tuple(self.tool_stats(session_id)),
            decisions=tuple(self.decision_counts(session_id)),
            api=self.api_health(session_id),
            activity=self.activity(session_id),
            problems=tuple(self.problems(session_id)),
        )
