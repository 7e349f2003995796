"""The Sessions list: one row per Claude Code session, newest activity first."""

from __future__ import annotations

from dataclasses import dataclass

from otelwatch.store.queries.base import QueryBase, like_pattern
from otelwatch.store.queries.overview import spend_cte


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session: when it was seen, what it used, what it cost and did.

    Cost and tokens come from the session's ``api_request`` events, or from its cost and token
    metrics when it sent no such events (``priced_from_events`` says which).
    """

    session_id: str
    first_ns: int
    last_ns: int
    models: tuple[str, ...]
    cost_usd: float
    tokens: int
    """Input, output, cache read and cache creation tokens added up."""
    prompts: int
    tool_calls: int
    errors: int
    """Failed API requests (``api_error``) and failed tool calls."""
    priced_from_events: bool
    service_name: str | None


class SessionQueries(QueryBase):
    """Queries of the Sessions view."""

    def sessions(self, *, text: str = "", limit: int = 500) -> list[SessionRow]:
        """Every session with any data, most recently seen first.

        ``text`` keeps the sessions whose id, service or a model contains it. The times are the
        telemetry's own (event, point and span times), so "last seen" compares with the clock
        of the machine that produced it.
        """
        spend, spend_params = spend_cte(None)
        having = ""
        params: list[object] = [*spend_params]
        if text:
            having = (
                "WHERE a.session_id ILIKE ? ESCAPE '\\' OR a.service_name ILIKE ? ESCAPE '\\' "
                "OR array_to_string(u.models, ' ') ILIKE ? ESCAPE '\\'"
            )
            params += [like_pattern(text)] * 3
        params.append(limit)
        with self._cursor() as cur:
            rows = cur.execute(
                f"""
                {spend},
                seen AS (
                    SELECT session_id, min(time_ns) AS first_ns, max(time_ns) AS last_ns,
                           any_value(service_name) AS service_name,
                           count(*) FILTER (WHERE event_name = 'user_prompt') AS prompts,
                           count(*) FILTER (WHERE event_name = 'tool_result') AS tool_calls,
                           count(*) FILTER (WHERE event_name = 'api_error'
                                            OR (event_name = 'tool_result'
                                                AND success = FALSE)) AS errors,
                           0 AS interactions
                    FROM log_events WHERE session_id IS NOT NULL GROUP BY session_id
                    UNION ALL
                    SELECT session_id, min(time_ns), max(time_ns), any_value(service_name),
                           0, 0, 0, 0
                    FROM metric_points WHERE session_id IS NOT NULL GROUP BY session_id
                    UNION ALL
                    SELECT session_id, min(start_ns), max(end_ns), any_value(service_name),
                           0, 0, 0, count(*) FILTER (WHERE span_type = 'interaction')
                    FROM spans WHERE session_id IS NOT NULL GROUP BY session_id
                ),
                a AS (
                    SELECT session_id, min(first_ns) AS first_ns, max(last_ns) AS last_ns,
                           any_value(service_name) AS service_name,
                           sum(prompts) AS prompts, sum(tool_calls) AS tool_calls,
                           sum(errors) AS errors, sum(interactions) AS interactions
                    FROM seen GROUP BY session_id
                ),
                u AS (
                    SELECT sid, list(DISTINCT model ORDER BY model)
                                FILTER (WHERE model IS NOT NULL) AS models,
                           coalesce(sum(cost), 0) AS cost,
                           coalesce(sum(input), 0) + coalesce(sum(output), 0)
                           + coalesce(sum(cache_read), 0)
                           + coalesce(sum(cache_creation), 0) AS tokens,
                           bool_or(from_events) AS from_events
                    FROM spend GROUP BY sid
                )
                SELECT a.session_id, a.first_ns, a.last_ns, coalesce(u.models, []),
                       coalesce(u.cost, 0), coalesce(u.tokens, 0),
                       -- Without user_prompt events (traces only), each interaction span is one.
                       CASE WHEN a.prompts > 0 THEN a.prompts ELSE a.interactions END,
                       a.tool_calls, a.errors, coalesce(u.from_events, FALSE), a.service_name
                FROM a LEFT JOIN u ON u.sid = a.session_id
                {having}
                ORDER BY a.last_ns DESC, a.session_id
                LIMIT ?
                """,
                params,
            ).fetchall()
        return [
            SessionRow(
                session_id=r[0],
                first_ns=r[1],
                last_ns=r[2],
                models=tuple(r[3]),
                cost_usd=float(r[4]),
                tokens=round(r[5]),
                prompts=int(r[6]),
                tool_calls=int(r[7]),
                errors=int(r[8]),
                priced_from_events=bool(r[9]),
                service_name=r[10],
            )
            for r in rows
        ]
