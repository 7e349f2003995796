"""The event stream: log events newest first, and one event in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from otelwatch.store.queries.base import QueryBase, next_look, text_match


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


# The attributes an EventRow's `detail` is made from, read in one call: a CASE over the event
# name doing the same in SQL took DuckDB ~0.8 ms to plan, in each of the several queries a
# filtered list makes, against ~0.2 ms for this.
_DETAIL_KEYS = ("status_code", "error", "total_attempts", "source", "prompt", "prompt_length")


def _detail(event_name: str | None, fields: list[str | None] | None) -> str | None:
    """What the `detail` column says for each kind of event, from the attributes in
    :data:`_DETAIL_KEYS`."""
    status_code, error, attempts, source, prompt, prompt_length = fields or [None] * 6
    if event_name == "api_error":
        return f"{status_code or ''} {error or ''}"
    if event_name == "api_retries_exhausted":
        return f"after {attempts or '?'} attempts"
    if event_name == "tool_decision":
        return source
    if event_name == "tool_result":
        return error
    if event_name == "user_prompt":
        if prompt is not None and prompt != "<REDACTED>":
            return prompt
        return None if prompt_length is None else f"{prompt_length} chars"
    if event_name == "api_refusal":
        return "refused"
    return None


class EventQueries(QueryBase):
    """Queries of the Events view."""

    def events(
        self, *, session_id: str | None = None, text: str = "", limit: int = 500
    ) -> list[EventRow]:
        """The newest events, optionally of one session and matching ``text``.

        ``text`` matches the event name, tool, model or session id, or anywhere in the
        attributes (slower: it reads the JSON), ignoring case.
        """
        where = ["TRUE"]
        params: list[Any] = []
        if session_id:
            where.append("session_id = ?")
            params.append(session_id)
        if text:
            match, match_params = text_match(text, *_TEXT_COLUMNS)
            where.append(match)
            params.extend(match_params)
        with self._cursor() as cur:
            first = _FIRST_LOOK_TEXT if text else _FIRST_LOOK
            rows = self._newest(cur, " AND ".join(where), params, limit, first, rematch=not text)
        return [_event_row(*row) for row in rows]

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

    def _newest(
        self, cur: Any, where: str, params: list[Any], limit: int, first: int, *, rematch: bool
    ) -> list[Any]:
        """The ``limit`` newest events matching ``where``: ``_ROW`` tuples, newest first.

        Sorting a million events by time to keep 500 costs ~80 ms, and the newest are almost always
        among the last stored, which DuckDB reads alone when asked by ``rowid``. So this matches the
        most recently stored ``first`` events, then older slices sized by the rate of matches so
        far, until ``limit`` match (after :data:`_LOOKS` slices, the rest in one query). The
        ``limit``-th newest of those bounds the answer: an event stored before the slices can only
        be in it at or after that time, and one query finds those reading just the row groups whose
        min/max time reach it (events a sender's clock put ahead, for example). Each event is
        matched once, which is what costs when ``where`` reads the attributes, and the slices return
        whole rows: reading 500 rows again by ``rowid`` decompresses the attributes of every row
        between them (~5 ms). With ``rematch`` (a ``where`` that is cheap to test again), one query
        bounded by that time (or, short of ``limit`` matches, over every event) replaces the rest:
        ~8 against ~10 ms for the plain list.
        """
        last = cur.execute("SELECT max(rowid) FROM log_events").fetchone()
        if last is None or last[0] is None:
            return []
        # Only the rows' time when they are read again (the JSON-reading detail of every row in
        # a 20,000-event slice costs more than the plain list's whole query).
        columns = "rowid, time_ns" if rematch else _ROW
        # DuckDB 2.0.0 fails an internal assertion on ORDER BY … LIMIT n (n up to this setting's
        # default, 50) of more than two columns under a rowid filter: its late materialization.
        # Set once on this cursor (the looks and the rest), and on each query thread's own.
        late_off = "SET late_materialization_max_rows = 0"
        if not rematch:
            cur.execute(late_off)

        def look(lo: int, hi: int, on: Any) -> list[Any]:
            if not rematch and on is not cur:
                on.execute(late_off)
            rows: list[Any] = on.execute(
                f"""
                SELECT {columns} FROM log_events
                WHERE rowid > ? AND rowid <= ? AND {where}
                ORDER BY time_ns DESC LIMIT ?
                """,
                [lo, hi, *params, limit],
            ).fetchall()
            return rows

        found: list[Any] = []
        top = last[0]  # every rowid above `top` has been looked at
        size = first
        for _ in range(_LOOKS):
            bottom = max(top - size, -1)
            # A slice big enough is matched in two halves at once (see _at_once).
            middle = (bottom + top) // 2 if top - bottom >= _SPLIT else top
            parts = [(middle, top), (bottom, middle)] if middle < top else [(bottom, top)]
            for rows in self._at_once(cur, *(partial(look, lo, hi) for lo, hi in parts)):
                found += rows
            looked = last[0] - bottom
            top = bottom
            if top < 0 or len(found) >= limit:
                break
            size = next_look(looked, len(found), limit)
        found.sort(key=_time, reverse=True)
        # The limit-th newest match so far, if there are that many: the answer is at or after it.
        bound: list[Any] = [found[limit - 1][1]] if len(found) >= limit else []
        since = "time_ns >= ? AND" if bound else ""
        if rematch:
            return list(
                cur.execute(
                    f"""
                    SELECT {_ROW} FROM log_events WHERE {since} {where}
                    ORDER BY time_ns DESC LIMIT ?
                    """,
                    [*bound, *params, limit],
                ).fetchall()
            )
        if top >= 0:
            found += cur.execute(
                f"""
                SELECT {_ROW} FROM log_events WHERE rowid <= ? AND {since} {where}
                ORDER BY time_ns DESC LIMIT ?
                """,
                [top, *bound, *params, limit],
            ).fetchall()
            found.sort(key=_time, reverse=True)
        return found[:limit]


# The columns of an EventRow, the last from the event's name and :data:`_DETAIL_KEYS`.
_ROW = f"""
    rowid, time_ns, session_id, coalesce(event_name, body), tool_name, model,
    duration_ms, cost_usd, success, decision, event_name,
    json_extract_string(attributes, {list(_DETAIL_KEYS)!r})
"""

# What ``text`` is looked for in: the short columns joined by NUL (which no typed text holds,
# so no match spans two of them) and the attributes' JSON read as text. One match over the
# joined columns in place of five took 10 % less time per event.
_TEXT_COLUMNS = (
    "concat_ws(chr(0), event_name, tool_name, model, session_id, body)",
    "CAST(attributes AS VARCHAR)",
)

# How many of the most recently stored events :func:`_newest` looks at first: matching a text
# costs ~0.5 µs per event (the attributes' JSON is read), the other filters much less.
_FIRST_LOOK = 20_000
_FIRST_LOOK_TEXT = 5_000
# Slices looked at, ever older, before reading the rest in one query.
_LOOKS = 2
# A slice of at least this many events is matched in two halves at the same time.
_SPLIT = 4_000


def _event_row(*row: Any) -> EventRow:
    """An EventRow from the columns of :data:`_ROW`."""
    key, time_ns, session_id, name, tool_name, model, duration_ms, cost_usd, success = row[:9]
    decision, event_name, fields = row[9:]
    return EventRow(
        key,
        time_ns,
        session_id,
        name,
        tool_name,
        model,
        duration_ms,
        cost_usd,
        success,
        decision,
        _detail(event_name, fields),
    )


def _time(row: Any) -> int:
    return int(row[1])
