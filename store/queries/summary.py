"""One session in figures: what ``otelwatch export`` and the dashboard's ``x`` key write out.

Every figure is computed from deduplicated rows, because exporters retry and a retry that crossed
a restart is stored twice: events on ``(event_name, time_ns, event.sequence)`` (or their attribute
JSON when the sender numbers nothing), spans on ``(trace_id, span_id)``, metric points on
``(series_key, start_ns, time_ns)``, keeping the largest ``increase`` of a repeated point (a
repeated cumulative point was stored with increase 0 the second time).

Cost and tokens are counted once: from the ``api_request`` events when the session has any, else
from the ``claude_code.cost.usage`` / ``claude_code.token.usage`` metrics (``SUM(increase)``);
the summary says which (:attr:`SessionSummary.cost_source`). API and tool figures come from the
events too, and from the spans when a sender exported traces but no events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otelwatch.store.queries.base import QueryBase

# Largest lists a summary carries; a session with more says so (`turns_total`, `tools_total`).
TURN_LIMIT = 2000
TOOL_LIMIT = 200
MODEL_LIMIT = 50
SLOWEST_TURNS = 5

SOURCE_EVENTS = "events"
SOURCE_METRICS = "metrics"
SOURCE_SPANS = "spans"

REDACTED = "<REDACTED>"

_COST_METRIC = "claude_code.cost.usage"
_TOKEN_METRIC = "claude_code.token.usage"  # noqa: S105 (a metric name)
_ACTIVE_METRIC = "claude_code.active_time.total"
_LINES_METRIC = "claude_code.lines_of_code.count"
_COMMIT_METRIC = "claude_code.commit.count"
_PR_METRIC = "claude_code.pull_request.count"
_METRIC_TOKEN_TYPES = {
    "input": "input",
    "output": "output",
    "cacheRead": "cache_read",
    "cacheCreation": "cache_creation",
}

# The session's log events, each stored once (see the module docstring).
_EVENTS = """
    ev AS (
        SELECT * FROM log_events
        WHERE session_id = $session
        QUALIFY row_number() OVER (
            PARTITION BY event_name, time_ns,
                coalesce(CAST(event_sequence AS VARCHAR), md5(CAST(attributes AS VARCHAR)))
            ORDER BY received_ns
        ) = 1
    )
"""

# The session's spans, each stored once.
_SPANS = """
    sp AS (
        SELECT * FROM spans
        WHERE session_id = $session
        QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY received_ns) = 1
    )
"""


@dataclass(frozen=True, slots=True)
class SessionMatch:
    """A session whose id starts with what the user typed, and when it was last active."""

    session_id: str
    last_ns: int


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Tokens by type."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0

    @property
    def total(self) -> int:
        """All four types together."""
        return self.input + self.output + self.cache_read + self.cache_creation

    @property
    def cache_hit_ratio(self) -> float | None:
        """Cache reads over all input-side tokens; ``None`` when there were none."""
        prompt_side = self.input + self.cache_read + self.cache_creation
        return self.cache_read / prompt_side if prompt_side else None


@dataclass(frozen=True, slots=True)
class ModelCost:
    """Spend on one model. ``requests`` is ``None`` when the cost came from the metric."""

    model: str
    cost_usd: float
    requests: int | None
    tokens: TokenCounts


@dataclass(frozen=True, slots=True)
class ApiStats:
    """Model requests: how many, how many failed or were retried, and how long they took.

    ``errors`` counts requests that failed after Claude Code's own retries (``api_error``);
    ``retries`` counts extra attempts (from the ``llm_request`` spans' ``attempt``, or the failed
    requests' ``attempt`` when there are no spans); ``retries_exhausted`` counts requests that
    gave up.
    """

    source: str | None
    requests: int
    errors: int
    retries: int
    retries_exhausted: int
    refusals: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None


@dataclass(frozen=True, slots=True)
class ToolStats:
    """One tool: calls that ran, how many failed, their duration, and calls the user rejected."""

    name: str
    calls: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    rejections: int


@dataclass(frozen=True, slots=True)
class CodeChanges:
    """What the session changed, from Claude Code's counters; ``None`` when never reported."""

    lines_added: int | None
    lines_removed: int | None
    commits: int | None
    pull_requests: int | None


@dataclass(frozen=True, slots=True)
class Turn:
    """One user prompt and everything done for it.

    ``duration_ms`` is the ``interaction`` span's when the prompt was traced, else the time from
    its first to its last event. ``prompt`` is the text only when asked for and when Claude Code
    exported it (``OTEL_LOG_USER_PROMPTS=1``).
    """

    prompt_id: str | None
    trace_id: str | None
    start_ns: int
    duration_ms: float
    cost_usd: float | None
    tokens: TokenCounts
    api_requests: int
    tool_calls: int
    tool_failures: int
    api_errors: int
    prompt: str | None = None

    @property
    def errors(self) -> int:
        """Failed model requests and failed tool calls."""
        return self.api_errors + self.tool_failures


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """Everything ``otelwatch export`` reports about one session."""

    session_id: str
    start_ns: int
    end_ns: int
    services: tuple[str, ...]
    models: tuple[str, ...]
    active_s: float | None
    active_user_s: float | None
    active_cli_s: float | None
    cost_source: str | None
    cost_usd: float | None
    cost_by_model: tuple[ModelCost, ...]
    tokens_source: str | None
    tokens: TokenCounts
    api: ApiStats
    tools_source: str | None
    tools: tuple[ToolStats, ...]
    tools_total: int
    code: CodeChanges
    turns: tuple[Turn, ...]
    turns_total: int
    slowest_turns: tuple[Turn, ...]
    prompts_included: bool

    @property
    def wall_ms(self) -> float:
        """From the first to the last thing the session sent."""
        return max(0, self.end_ns - self.start_ns) / 1e6


class SummaryQueries(QueryBase):
    """Queries of the session export."""

    def find_sessions(self, prefix: str = "", limit: int = 10) -> list[SessionMatch]:
        """Sessions whose id starts with ``prefix``, most recently active first.

        An exact match comes first whatever its age, so a full id is never ambiguous.
        """
        with self._cursor() as cur:
            rows = cur.execute(
                """
                SELECT session_id, max(last_ns) AS last_ns FROM (
                    SELECT session_id, max(time_ns) AS last_ns FROM log_events
                    WHERE starts_with(session_id, $prefix) GROUP BY 1
                    UNION ALL
                    SELECT session_id, max(end_ns) FROM spans
                    WHERE starts_with(session_id, $prefix) GROUP BY 1
                    UNION ALL
                    SELECT session_id, max(time_ns) FROM metric_points
                    WHERE starts_with(session_id, $prefix) GROUP BY 1
                )
                GROUP BY session_id
                ORDER BY session_id = $prefix DESC, last_ns DESC, session_id
                LIMIT $limit
                """,
                {"prefix": prefix, "limit": limit},
            ).fetchall()
        return [SessionMatch(str(sid), int(last)) for sid, last in rows]

    def session_summary(self, session_id: str, *, include_prompts: bool = False) -> SessionSummary:
        """The summary of one session (its full id). Prompt text only if ``include_prompts``."""
        with self._cursor() as cur:
            params: dict[str, Any] = {"session": session_id}
            start_ns, end_ns = _bounds(cur, params)
            services = _services(cur, params)
            metrics = _metrics(cur, params)
            by_model_events = _event_costs(cur, params)
            api = _api(cur, params)
            tools_source, tools, tools_total = _tools(cur, params)
            turns, turns_total = _turns(cur, params, include_prompts)
            span_models = _span_models(cur, params)

        if by_model_events:
            cost_source: str | None = SOURCE_EVENTS
            by_model = by_model_events
        else:
            by_model = _metric_costs(metrics)
            cost_source = SOURCE_METRICS if by_model else None
        tokens_source = cost_source
        if by_model:
            tokens = _sum_tokens(m.tokens for m in by_model)
        else:
            tokens = _metric_tokens(metrics, model=None)
            tokens_source = SOURCE_METRICS if tokens.total else None
        cost = sum(m.cost_usd for m in by_model) if by_model else None
        models = [m.model for m in by_model if m.model]
        models += [m for m in span_models if m not in models]

        active = {
            kind: value for (name, kind, _), value in metrics.items() if name == _ACTIVE_METRIC
        }
        slowest = sorted(turns, key=lambda t: (-t.duration_ms, t.start_ns))[:SLOWEST_TURNS]
        return SessionSummary(
            session_id=session_id,
            start_ns=start_ns,
            end_ns=end_ns,
            services=tuple(services),
            models=tuple(models[:MODEL_LIMIT]),
            active_s=sum(active.values()) if active else None,
            active_user_s=active.get("user"),
            active_cli_s=active.get("cli"),
            cost_source=cost_source,
            cost_usd=cost,
            cost_by_model=tuple(by_model[:MODEL_LIMIT]),
            tokens_source=tokens_source,
            tokens=tokens,
            api=api,
            tools_source=tools_source,
            tools=tuple(tools),
            tools_total=tools_total,
            code=CodeChanges(
                lines_added=_metric_int(metrics, _LINES_METRIC, "added"),
                lines_removed=_metric_int(metrics, _LINES_METRIC, "removed"),
                commits=_metric_int(metrics, _COMMIT_METRIC),
                pull_requests=_metric_int(metrics, _PR_METRIC),
            ),
            turns=tuple(turns[:TURN_LIMIT]),
            turns_total=turns_total,
            slowest_turns=tuple(slowest),
            prompts_included=include_prompts,
        )


# ---------------------------------------------------------------- the parts of a summary
# Each takes the caller's cursor, so one summary is read in one go.

_MetricKey = tuple[str, str, str]  # (metric_name, type, model)


def _bounds(cur: Any, params: dict[str, Any]) -> tuple[int, int]:
    row = cur.execute(
        """
        SELECT min(first_ns), max(last_ns) FROM (
            SELECT min(time_ns) AS first_ns, max(time_ns) AS last_ns FROM log_events
            WHERE session_id = $session
            UNION ALL
            SELECT min(start_ns), max(end_ns) FROM spans WHERE session_id = $session
            UNION ALL
            SELECT min(time_ns), max(time_ns) FROM metric_points WHERE session_id = $session
        )
        """,
        params,
    ).fetchone()
    first, last = (row or (None, None))[:2]
    return int(first or 0), int(last or first or 0)


def _services(cur: Any, params: dict[str, Any]) -> list[str]:
    rows = cur.execute(
        """
        WITH ids AS (
            SELECT DISTINCT resource_id FROM log_events WHERE session_id = $session
            UNION SELECT DISTINCT resource_id FROM spans WHERE session_id = $session
            UNION SELECT DISTINCT resource_id FROM metric_points WHERE session_id = $session
        )
        SELECT DISTINCT trim(coalesce(r.service_name, '') || ' '
                             || coalesce(r.attributes->>'service.version', ''))
        FROM resources r JOIN ids USING (resource_id)
        ORDER BY 1
        LIMIT 10
        """,
        params,
    ).fetchall()
    return [str(name) for (name,) in rows if name]


def _metrics(cur: Any, params: dict[str, Any]) -> dict[_MetricKey, float]:
    rows = cur.execute(
        f"""
        SELECT metric_name, coalesce("type", ''), coalesce(model, ''), sum(increase)
        FROM (
            SELECT metric_name, "type", model, max(increase) AS increase
            FROM metric_points
            WHERE session_id = $session AND metric_name IN (
                '{_COST_METRIC}', '{_TOKEN_METRIC}', '{_ACTIVE_METRIC}', '{_LINES_METRIC}',
                '{_COMMIT_METRIC}', '{_PR_METRIC}')
            GROUP BY series_key, start_ns, time_ns, metric_name, "type", model
        )
        GROUP BY 1, 2, 3
        """,
        params,
    ).fetchall()
    return {(str(n), str(t), str(m)): float(v or 0) for n, t, m, v in rows}


def _metric_int(metrics: dict[_MetricKey, float], name: str, kind: str | None = None) -> int | None:
    values = [v for (n, t, _), v in metrics.items() if n == name and (kind is None or t == kind)]
    return round(sum(values)) if values else None


def _metric_tokens(metrics: dict[_MetricKey, float], model: str | None) -> TokenCounts:
    counts = dict.fromkeys(_METRIC_TOKEN_TYPES.values(), 0.0)
    for (name, kind, m), value in metrics.items():
        if name == _TOKEN_METRIC and kind in _METRIC_TOKEN_TYPES and model in (None, m):
            counts[_METRIC_TOKEN_TYPES[kind]] += value
    return TokenCounts(**{k: round(v) for k, v in counts.items()})


def _metric_costs(metrics: dict[_MetricKey, float]) -> list[ModelCost]:
    costs: dict[str, float] = {}
    for (name, _, model), value in metrics.items():
        if name == _COST_METRIC:
            costs[model] = costs.get(model, 0.0) + value
    out = [
        ModelCost(model, usd, None, _metric_tokens(metrics, model)) for model, usd in costs.items()
    ]
    return sorted(out, key=lambda m: (-m.cost_usd, m.model))


def _sum_tokens(parts: Any) -> TokenCounts:
    total = TokenCounts()
    for t in parts:
        total = TokenCounts(
            total.input + t.input,
            total.output + t.output,
            total.cache_read + t.cache_read,
            total.cache_creation + t.cache_creation,
        )
    return total


def _event_costs(cur: Any, params: dict[str, Any]) -> list[ModelCost]:
    rows = cur.execute(
        f"""
        WITH {_EVENTS}
        SELECT coalesce(model, ''), count(*), coalesce(sum(cost_usd), 0),
               coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
               coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_creation_tokens), 0)
        FROM ev WHERE event_name = 'api_request'
        GROUP BY 1
        ORDER BY 3 DESC, 1
        """,
        params,
    ).fetchall()
    return [
        ModelCost(str(model), float(usd), int(n), TokenCounts(int(i), int(o), int(cr), int(cc)))
        for model, n, usd, i, o, cr, cc in rows
    ]


def _span_models(cur: Any, params: dict[str, Any]) -> list[str]:
    rows = cur.execute(
        """
        SELECT model FROM spans
        WHERE session_id = $session AND span_type = 'llm_request' AND model IS NOT NULL
        GROUP BY model ORDER BY count(*) DESC, model LIMIT 20
        """,
        params,
    ).fetchall()
    return [str(m) for (m,) in rows]


def _api(cur: Any, params: dict[str, Any]) -> ApiStats:
    events = cur.execute(
        f"""
        WITH {_EVENTS}
        SELECT
            count(*) FILTER (event_name = 'api_request'),
            count(*) FILTER (event_name = 'api_error'),
            coalesce(sum(greatest(TRY_CAST(attributes->>'attempt' AS BIGINT) - 1, 0))
                FILTER (event_name = 'api_error'), 0),
            count(*) FILTER (event_name = 'api_retries_exhausted'),
            count(*) FILTER (event_name = 'api_refusal'),
            quantile_cont(duration_ms, 0.5) FILTER (event_name = 'api_request'),
            quantile_cont(duration_ms, 0.95) FILTER (event_name = 'api_request'),
            quantile_cont(TRY_CAST(attributes->>'ttft_ms' AS DOUBLE), 0.5)
                FILTER (event_name = 'api_request')
        FROM ev
        WHERE event_name IN ('api_request', 'api_error', 'api_retries_exhausted', 'api_refusal')
        """,
        params,
    ).fetchone()
    spans = cur.execute(
        f"""
        WITH {_SPANS}
        SELECT
            count(*),
            count(*) FILTER (status_code = 'error'),
            coalesce(sum(greatest(TRY_CAST(attributes->>'attempt' AS BIGINT) - 1, 0)), 0),
            quantile_cont(duration_ns / 1e6, 0.5),
            quantile_cont(duration_ns / 1e6, 0.95),
            quantile_cont(TRY_CAST(attributes->>'ttft_ms' AS DOUBLE), 0.5)
        FROM sp WHERE span_type = 'llm_request'
        """,
        params,
    ).fetchone()
    requests, errors, error_retries, exhausted, refusals, p50, p95, ttft = events
    span_count, span_errors, span_retries, span_p50, span_p95, span_ttft = spans
    # Retries of requests that succeeded show only on the spans.
    retries = int(span_retries) if span_count else int(error_retries)
    if requests or errors:
        return ApiStats(
            SOURCE_EVENTS,
            int(requests),
            int(errors),
            retries,
            int(exhausted),
            int(refusals),
            p50,
            p95,
            ttft,
        )
    if span_count:
        return ApiStats(
            SOURCE_SPANS,
            int(span_count),
            int(span_errors),
            retries,
            int(exhausted),
            int(refusals),
            span_p50,
            span_p95,
            span_ttft,
        )
    return ApiStats(None, 0, 0, 0, int(exhausted), int(refusals), None, None, None)


def _tools(cur: Any, params: dict[str, Any]) -> tuple[str | None, list[ToolStats], int]:
    rows = cur.execute(
        f"""
        WITH {_EVENTS}
        SELECT tool_name,
               count(*) FILTER (event_name = 'tool_result') AS calls,
               count(*) FILTER (event_name = 'tool_result' AND success = false),
               quantile_cont(duration_ms, 0.5) FILTER (event_name = 'tool_result'),
               quantile_cont(duration_ms, 0.95) FILTER (event_name = 'tool_result'),
               count(*) FILTER (event_name = 'tool_decision' AND decision = 'reject'),
               count(*) OVER ()
        FROM ev
        WHERE event_name IN ('tool_result', 'tool_decision') AND tool_name IS NOT NULL
        GROUP BY tool_name
        ORDER BY calls DESC, tool_name
        LIMIT $limit
        """,
        {**params, "limit": TOOL_LIMIT},
    ).fetchall()
    source = SOURCE_EVENTS
    if not rows:
        # Traces without events: a tool span per call, its children tell failure and rejection.
        rows = cur.execute(
            f"""
            WITH {_SPANS},
            child AS (
                SELECT trace_id, parent_span_id AS span_id,
                       bool_or(status_code = 'error' AND span_type = 'tool.execution') AS failed,
                       bool_or(span_type = 'tool.blocked_on_user'
                               AND attributes->>'decision' = 'reject') AS rejected
                FROM sp WHERE span_type IN ('tool.execution', 'tool.blocked_on_user')
                GROUP BY 1, 2
            ),
            tool AS (
                SELECT sp.tool_name, sp.duration_ns / 1e6 AS ms,
                       coalesce(child.rejected, false) AS rejected,
                       sp.status_code = 'error' OR coalesce(child.failed, false) AS failed
                FROM sp LEFT JOIN child USING (trace_id, span_id)
                WHERE sp.span_type = 'tool' AND sp.tool_name IS NOT NULL
            )
            SELECT tool_name,
                   count(*) FILTER (NOT rejected) AS calls,
                   count(*) FILTER (NOT rejected AND failed),
                   quantile_cont(ms, 0.5) FILTER (NOT rejected),
                   quantile_cont(ms, 0.95) FILTER (NOT rejected),
                   count(*) FILTER (rejected),
                   count(*) OVER ()
            FROM tool
            GROUP BY tool_name
            ORDER BY calls DESC, tool_name
            LIMIT $limit
            """,
            {**params, "limit": TOOL_LIMIT},
        ).fetchall()
        source = SOURCE_SPANS
    if not rows:
        return None, [], 0
    tools = [
        ToolStats(str(name), int(calls), int(failed), p50, p95, int(rejected))
        for name, calls, failed, p50, p95, rejected, _ in rows
    ]
    return source, tools, int(rows[0][6])


def _turns(cur: Any, params: dict[str, Any], include_prompts: bool) -> tuple[list[Turn], int]:
    rows = cur.execute(
        f"""
        WITH {_EVENTS},
        p AS (
            SELECT prompt_id,
                   min(time_ns) AS first_ns,
                   max(time_ns) AS last_ns,
                   coalesce(arg_min(trace_id, time_ns) FILTER (event_name = 'user_prompt'),
                            arg_min(trace_id, time_ns)) AS trace_id,
                   count(*) FILTER (event_name = 'api_request') AS requests,
                   sum(cost_usd) FILTER (event_name = 'api_request') AS cost,
                   coalesce(sum(input_tokens) FILTER (event_name = 'api_request'), 0) AS i,
                   coalesce(sum(output_tokens) FILTER (event_name = 'api_request'), 0) AS o,
                   coalesce(sum(cache_read_tokens) FILTER (event_name = 'api_request'), 0) AS cr,
                   coalesce(sum(cache_creation_tokens) FILTER (event_name = 'api_request'), 0)
                       AS cc,
                   count(*) FILTER (event_name = 'tool_result') AS tools,
                   count(*) FILTER (event_name = 'tool_result' AND success = false) AS failed,
                   count(*) FILTER (event_name = 'api_error') AS api_errors,
                   CASE WHEN $prompts THEN
                       arg_min(attributes->>'prompt', time_ns) FILTER (event_name = 'user_prompt')
                   END AS prompt
            FROM ev WHERE prompt_id IS NOT NULL
            GROUP BY prompt_id
        ),
        i AS (
            SELECT trace_id, min(start_ns) AS start_ns, max(duration_ns) AS duration_ns
            FROM spans
            WHERE span_type = 'interaction' AND trace_id IN (SELECT trace_id FROM p)
            GROUP BY trace_id
        )
        SELECT p.prompt_id, p.trace_id, coalesce(i.start_ns, p.first_ns),
               coalesce(i.duration_ns, p.last_ns - p.first_ns) / 1e6,
               p.cost, p.i, p.o, p.cr, p.cc, p.requests, p.tools, p.failed, p.api_errors,
               p.prompt, count(*) OVER ()
        FROM p LEFT JOIN i USING (trace_id)
        ORDER BY 3, 1
        LIMIT $limit
        """,
        {**params, "prompts": include_prompts, "limit": TURN_LIMIT * 5},
    ).fetchall()
    if not rows:
        return _span_turns(cur, params, include_prompts)
    turns = [
        Turn(
            prompt_id=str(pid),
            trace_id=trace,
            start_ns=int(start),
            duration_ms=float(ms),
            cost_usd=None if cost is None else float(cost),
            tokens=TokenCounts(int(i), int(o), int(cr), int(cc)),
            api_requests=int(requests),
            tool_calls=int(tools),
            tool_failures=int(failed),
            api_errors=int(api_errors),
            prompt=_prompt(prompt, include_prompts),
        )
        for (
            pid,
            trace,
            start,
            ms,
            cost,
            i,
            o,
            cr,
            cc,
            requests,
            tools,
            failed,
            api_errors,
            prompt,
            _,
        ) in rows
    ]
    return turns, int(rows[0][-1])


def _span_turns(cur: Any, params: dict[str, Any], include_prompts: bool) -> tuple[list[Turn], int]:
    """Turns from ``interaction`` spans, for a session that exported traces but no events."""
    rows = cur.execute(
        f"""
        WITH {_SPANS},
        work AS (
            SELECT trace_id,
                   count(*) FILTER (span_type = 'llm_request') AS requests,
                   sum(TRY_CAST(attributes->>'input_tokens' AS BIGINT))
                       FILTER (span_type = 'llm_request') AS i,
                   sum(TRY_CAST(attributes->>'output_tokens' AS BIGINT))
                       FILTER (span_type = 'llm_request') AS o,
                   sum(TRY_CAST(attributes->>'cache_read_tokens' AS BIGINT))
                       FILTER (span_type = 'llm_request') AS cr,
                   sum(TRY_CAST(attributes->>'cache_creation_tokens' AS BIGINT))
                       FILTER (span_type = 'llm_request') AS cc,
                   count(*) FILTER (span_type = 'tool') AS tools,
                   count(*) FILTER (span_type = 'tool.execution' AND status_code = 'error')
                       AS failed,
                   count(*) FILTER (span_type = 'llm_request' AND status_code = 'error')
                       AS api_errors
            FROM sp GROUP BY trace_id
        )
        SELECT sp.trace_id, sp.start_ns, sp.duration_ns / 1e6,
               coalesce(w.i, 0), coalesce(w.o, 0), coalesce(w.cr, 0), coalesce(w.cc, 0),
               coalesce(w.requests, 0), coalesce(w.tools, 0), coalesce(w.failed, 0),
               coalesce(w.api_errors, 0),
               CASE WHEN $prompts THEN sp.attributes->>'user_prompt' END,
               count(*) OVER ()
        FROM sp LEFT JOIN work w USING (trace_id)
        WHERE sp.span_type = 'interaction'
        ORDER BY sp.start_ns, sp.trace_id
        LIMIT $limit
        """,
        {**params, "prompts": include_prompts, "limit": TURN_LIMIT * 5},
    ).fetchall()
    turns = [
        Turn(
            prompt_id=None,
            trace_id=str(trace),
            start_ns=int(start),
            duration_ms=float(ms),
            cost_usd=None,
            tokens=TokenCounts(int(i), int(o), int(cr), int(cc)),
            api_requests=int(requests),
            tool_calls=int(tools),
            tool_failures=int(failed),
            api_errors=int(api_errors),
            prompt=_prompt(prompt, include_prompts),
        )
        for trace, start, ms, i, o, cr, cc, requests, tools, failed, api_errors, prompt, _ in rows
    ]
    return turns, int(rows[0][-1]) if rows else 0


def _prompt(text: object, include: bool) -> str | None:
    if not include or not isinstance(text, str) or not text or text == REDACTED:
        return None
    return text
