"""The event stream: log events newest first, and one event in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from otelwatch.store.queries.base import QueryBase, like_pattern


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the event stream."""

    key: int
    time_ns: int
    session_id: str | None
    event_name: str | None
    tool_name: str | None
    model: str | None
    duration_ms: float | None
    cost_usd: float | None
    success: bool | None
    decision: str | None
    detail: str | None
    """A short word on what happened: an error, a decision's source, a prompt's length."""


@dataclass(frozen=True, slots=True)
class EventDetail:
    """Everything stored about one event."""

    key: int
    time_ns: int
    observed_ns: int
    received_ns: int
    session_id: str | None
    prompt_id: str | None
    event_name: str | None
    severity_number: int
    severity_text: str | None
    body: str | None
    trace_id: str | None
    span_id: str | None
    service_name: str | None
    scope_name: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]


# What the `detail` column says for each kind of event.
_DETAIL = """
    CASE event_name
        WHEN 'api_error' THEN coalesce(attributes->>'status_code', '') || ' '
            || coalesce(attributes->>'error', '')
        WHEN 'api_retries_exhausted' THEN 'after ' || coalesce(attributes->>'total_attempts', '?')
            || ' attempts'
        WHEN 'tool_decision' THEN attributes->>'source'
        WHEN 'tool_result' THEN attributes->>'error'
        WHEN 'user_prompt' THEN coalesce(nullif(attributes->>'prompt', '<REDACTED>'),
            (attributes->>'prompt_length') || ' chars')
        WHEN 'api_refusal' THEN 'refused'
        ELSE NULL
    END
"""


class EventQueries(QueryBase):
    """Queries of the Events view."""

    def events(
        self, *, session_id: str | None = None, text: str = "", limit: int = 500
    ) -> list[EventRow]:
        """The newest events, optionally of one session and matching ``text``.

        ``text`` matches the event name, tool, model or session id, or anywhere in the
        attributes (slower: it reads the JSON).
        """
        where = ["TRUE"]
        params: list[Any] = []
        if session_id:
            where.append("session_id = ?")
            params.append(session_id)
        if text:
            where.append(
                "(event_name ILIKE ? ESCAPE '\\' OR tool_name ILIKE ? ESCAPE '\\' "
                "OR model ILIKE ? ESCAPE '\\' OR session_id ILIKE ? ESCAPE '\\' "
                "OR body ILIKE ? ESCAPE '\\' OR CAST(attributes AS VARCHAR) ILIKE ? ESCAPE '\\')"
            )
            params.extend([like_pattern(text)] * 6)
        with self._cursor() as cur:
            first = _FIRST_LOOK_TEXT if text else _FIRST_LOOK
            since = _newest_bound(cur, " AND ".join(where), params, limit, first)
            if since is not None:
                where.append("time_ns >= ?")
                params.append(since)
            rows = cur.execute(
                f"""
                SELECT rowid, time_ns, session_id, coalesce(event_name, body), tool_name, model,
                       duration_ms, cost_usd, success, decision, {_DETAIL}
                FROM log_events
                WHERE {" AND ".join(where)}
                ORDER BY time_ns DESC
                LIMIT ?
                """,
                [*params, limit],
            ).fetchall()
        return [EventRow(*row) for row in rows]

    def event_detail(self, key: int) -> EventDetail | None:
        """One event with every attribute and its resource; ``None`` if it is gone."""
        with self._cursor() as cur:
            row = cur.execute(
                """
                SELECT e.rowid, e.time_ns, e.observed_ns, e.received_ns, e.session_id,
                       e.prompt_id, e.event_name, e.severity_number, e.severity_text, e.body,
                       e.trace_id, e.span_id, e.service_name, e.scope_name, e.attributes,
                       r.attributes
                FROM log_events e LEFT JOIN resources r USING (resource_id)
                WHERE e.rowid = ?
                """,
                [key],
            ).fetchone()
        if row is None:
            return None
        return EventDetail(
            key=row[0],
            time_ns=row[1],
            observed_ns=row[2],
            received_ns=row[3],
            session_id=row[4],
            prompt_id=row[5],
            event_name=row[6],
            severity_number=row[7],
            severity_text=row[8],
            body=row[9],
            trace_id=row[10],
            span_id=row[11],
            service_name=row[12],
            scope_name=row[13],
            attributes=json.loads(row[14]) if row[14] else {},
            resource=json.loads(row[15]) if row[15] else {},
        )


# How many of the most recently stored events :func:`_newest_bound` looks at first: matching a
# text costs ~1 µs per event (the attributes' JSON is read), the other filters much less.
_FIRST_LOOK = 20_000
_FIRST_LOOK_TEXT = 5_000


def _newest_bound(cur: Any, where: str, params: list[Any], limit: int, first: int) -> int | None:
    """A time that the ``limit`` newest events matching ``where`` are all at or after, or
    ``None`` to look at every event.

    Sorting a million events by time to keep 500 costs ~80 ms; the newest are almost always
    among the last stored, which DuckDB reads alone when asked by ``rowid``. If ``limit`` of
    the last ``first`` stored events match, the ``limit``-th newest of them bounds the answer:
    the full query then reads only the row groups at or after it (their min/max say so).
    Events stored long ago with a later time (a sender's clock ahead) are still found, by the
    bound. Too few matches: a second look, as far back as their rate says is needed.
    """
    last = cur.execute("SELECT max(rowid) FROM log_events").fetchone()
    if last is None or last[0] is None:
        return None
    rows = first
    for _ in range(2):
        if rows >= last[0]:
            return None
        found = cur.execute(
            f"""
            SELECT count(*), min(time_ns) FROM (
                SELECT time_ns FROM log_events WHERE rowid > ? AND {where}
                ORDER BY time_ns DESC LIMIT ?
            )
            """,
            [last[0] - rows, *params, limit],
        ).fetchone()
        assert found is not None
        if found[0] >= limit:
            return int(found[1])
        rows = rows * 10 if not found[0] else int(rows * limit / found[0] * 1.3)
    return None
