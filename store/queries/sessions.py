"""The Sessions list: one row per Claude Code session, newest activity first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otelwatch.store.queries.base import QueryBase, like_pattern


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
        where, matches = "", ""
        params: list[object] = []
        if text:
            pattern = like_pattern(text)
            # A model matches when the session is priced from it (when it is in its models).
            matches = (
                ", bool_or(model ILIKE ? ESCAPE '\\' AND requests > 0) AS ev_match"
                ", bool_or(model ILIKE ? ESCAPE '\\' AND mp_points > 0) AS mp_match"
            )
            where = (
                "WHERE session_id ILIKE ? ESCAPE '\\' OR service_name ILIKE ? ESCAPE '\\' "
                "OR CASE WHEN from_events THEN ev_match ELSE mp_match END"
            )
            params += [pattern] * 4
        params.append(limit)
        with self.snapshot(), self._cursor() as cur:
            # From the per-session totals the writer keeps (store/rollups.py): a few rows per
            # session rather than every span, event and point.
            rows = cur.execute(
                f"""
                WITH a AS (
                    SELECT session_id, min(first_ns) AS first_ns, max(last_ns) AS last_ns,
                           any_value(service_name) AS service_name,
                           sum(prompts) AS prompts, sum(tool_calls) AS tool_calls,
                           sum(api_errors + tool_failures) AS errors,
                           sum(interactions) AS interactions,
                           sum(requests) > 0 AS from_events,
                           -- Both sources, the right one chosen below.
                           sum(ev_cost) AS ev_cost, sum(mp_cost) AS mp_cost,
                           sum(ev_input + ev_output + ev_cache_read + ev_cache_creation)
                               AS ev_tokens,
                           sum(mp_input + mp_output + mp_cache_read + mp_cache_creation)
                               AS mp_tokens
                           {matches}
                    FROM session_rollup WHERE session_id IS NOT NULL GROUP BY session_id
                )
                SELECT session_id, first_ns, last_ns,
                       CASE WHEN from_events THEN ev_cost ELSE mp_cost END,
                       CASE WHEN from_events THEN ev_tokens ELSE mp_tokens END,
                       -- Without user_prompt events (traces only), each interaction span is one.
                       CASE WHEN prompts > 0 THEN prompts ELSE interactions END,
                       tool_calls, errors, from_events, service_name
                FROM a {where}
                ORDER BY last_ns DESC, session_id LIMIT ?
                """,
                params,
            ).fetchall()
            models = _models(cur, {r[0]: bool(r[8]) for r in rows})
        return [
            SessionRow(
                session_id=r[0],
                first_ns=r[1],
                last_ns=r[2],
                models=models.get(r[0], ()),
                cost_usd=float(r[3]),
                tokens=round(r[4]),
                prompts=int(r[5]),
                tool_calls=int(r[6]),
                errors=int(r[7]),
                priced_from_events=bool(r[8]),
                service_name=r[9],
            )
            for r in rows
        ]


def _models(cur: Any, from_events: dict[str, bool]) -> dict[str, tuple[str, ...]]:
    """The models each session is priced from (``from_events``: by session id), sorted.

    A query of its own rather than a join in the list's: that join cost ~5 ms of the list's
    ~18 at 19,000 sessions, this ~2.
    """
    if not from_events:
        return {}
    found: dict[str, set[str]] = {}
    for session_id, model, requests, points in cur.execute(
        """
        SELECT session_id, model, requests > 0, mp_points > 0 FROM session_rollup
        WHERE model IS NOT NULL AND session_id IN (SELECT unnest(?::VARCHAR[]))
        """,
        [list(from_events)],
    ).fetchall():
        if requests if from_events[session_id] else points:
            found.setdefault(session_id, set()).add(model)
    return {session_id: tuple(sorted(models)) for session_id, models in found.items()}
