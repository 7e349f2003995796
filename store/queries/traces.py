"""Traces: the list of recent traces, one trace's spans, one span in full, search in a trace.

Every span is counted once per ``(trace_id, span_id)``: an exporter's retry after a restart can
store a span twice (the copies are the same span).

The list is built for a million stored spans. A full ``GROUP BY trace_id`` over every span costs
about 40 ms there, so the list first finds the start of the ``limit``-th newest root span (a
top-N over the root spans only) and aggregates just the spans that started since: span start
times follow insertion order closely, so DuckDB's per-row-group min/max skip the rest of the
table. Traces whose root has not arrived yet are in that window too, since their spans are recent.
Sorting by duration, cost or errors orders those newest traces, as Jaeger's search results do.
Reading the compressed JSON column is the slow part of any query, so the list reads JSON only for
what it has not read before (see ``_extras``). A text filter matches the most recently stored
spans first, as the Events filter does, and aggregates only the traces it keeps. Figures:
docs/benchmarks.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from otelwatch.store.queries.base import QueryBase, like_pattern, next_look

TraceSort = Literal["start", "duration", "cost", "errors"]
TRACE_SORTS: tuple[TraceSort, ...] = ("start", "duration", "cost", "errors")

REDACTED = "<REDACTED>"

# A trace bigger than this is shown cut, and says so: the waterfall holds every span in memory.
MAX_TRACE_SPANS = 50_000

_NO_BOUND = -(2**63)

# The time bounds on event queries only let DuckDB skip old row groups. A turn's events can
# come before its earliest stored span (the prompt is submitted before the first model call,
# and the root span may not have arrived yet), so the bound is this much earlier.
EVENT_SLACK_NS = 600 * 10**9

# How long the list trusts that a trace has no prompt, while its spans do not change.
RECHECK_PROMPT_S = 30.0

# The text filter aggregates a matched trace from this long before its latest matching span, so
# that DuckDB skips older row groups: a trace's spans start after its root, and a turn is rarely
# more than minutes long. A trace longer than this is listed from this point on, as the plain
# list lists a trace from the start of its window.
TRACE_SLACK_NS = 6 * 3600 * 10**9

# How many of the most recently stored spans the text filter matches first, and how many ever
# older slices it looks at before reading the rest in one query (see _matching_traces).
_FIRST_LOOK = 50_000
_LOOKS = 2


@dataclass(frozen=True, slots=True)
class TraceRow:
    """One trace of the list: what its root says and what its spans add up to."""

    trace_id: str
    name: str
    """The root span's name, or while the root is missing, the earliest span's."""
    has_root: bool
    """False while the root span has not arrived (its children are often exported first)."""
    session_id: str | None
    service_name: str | None
    start_ns: int
    end_ns: int
    spans: int
    errors: int
    """Spans with status ``error``."""
    cost_usd: float | None
    """The turn's cost from its ``api_request`` events; ``None`` when none were received."""
    tokens: int | None
    """Input, output, cache read and cache creation tokens, from the ``api_request`` events or
    else the ``llm_request`` spans; ``None`` when neither says."""
    prompt: str | None
    """The user's prompt when it was exported (``OTEL_LOG_USER_PROMPTS=1``), else ``None``."""

    @property
    def duration_ns(self) -> int:
        """From the first span's start to the last span's end."""
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True, slots=True)
class TraceSpan:
    """One span as the waterfall draws it: the promoted columns only, no JSON."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    span_type: str | None
    tool_name: str | None
    model: str | None
    service_name: str | None


@dataclass(frozen=True, slots=True)
class TurnUsage:
    """What a trace's model calls used, from its ``api_request`` events or ``llm_request`` spans."""

    cost_usd: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    requests: int
    from_events: bool
    """True when the figures come from ``api_request`` events (the only source of cost)."""

    @property
    def tokens(self) -> int:
        """All four kinds of tokens added up."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_creation_tokens
        )


@dataclass(frozen=True, slots=True)
class Trace:
    """One trace: every span (up to :data:`MAX_TRACE_SPANS`), its usage and its prompt."""

    trace_id: str
    spans: tuple[TraceSpan, ...]
    truncated: bool
    """More spans are stored than were loaded."""
    session_id: str | None
    usage: TurnUsage | None
    prompt: str | None
    prompt_length: int | None
    """The prompt's length in characters, also known when its text was redacted."""


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """An event recorded on a span (``gen_ai.request.attempt``, ``tool.output``, …)."""

    time_ns: int
    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link from a span to another span, possibly of another trace."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TraceLogEvent:
    """A log event tied to a span: emitted in it, or naming its tool call or model request."""

    time_ns: int
    event_name: str | None
    span_id: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpanDetail:
    """Everything stored about one span, and the log events tied to it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str | None
    service_name: str | None
    scope_name: str | None
    scope_version: str | None
    trace_state: str | None
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...]
    links: tuple[SpanLink, ...]
    resource: dict[str, Any]
    log_events: tuple[TraceLogEvent, ...]
    """Events emitted in this span (for the root: the whole turn's), or carrying its
    ``tool_use_id`` or ``request_id``; oldest first."""


@dataclass(slots=True)
class _Extras:
    cost_usd: float | None = None
    tokens: int | None = None
    prompt: str | None = None
    requests: int = 0


class _Bounded(dict[str, Any]):
    """A dict that forgets everything when it grows past a size (a cache by trace id)."""

    LIMIT = 100_000

    def __setitem__(self, key: str, value: Any) -> None:
        if len(self) >= self.LIMIT:
            self.clear()
        super().__setitem__(key, value)


_TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")

# An llm_request span's four token counts (numbers or digit strings in its attributes), one per
# span even if the span is stored twice. DuckDB reads the JSON several times faster than Python.
_SPAN_TOKEN_COLUMNS = ", ".join(
    f"max(TRY_CAST(attributes->>'{key}' AS BIGINT)) AS {alias}"
    for key, alias in zip(_TOKEN_KEYS, "iorc", strict=True)
)


def _newest(rows: list[Any], limit: int) -> list[Any]:
    """The ``limit`` traces that started last (aggregate rows: the start is at index 5)."""
    return sorted(rows, key=lambda r: (r[5], r[0]), reverse=True)[:limit]


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _prompt(text: Any) -> str | None:
    if not isinstance(text, str) or not text or text == REDACTED:
        return None
    return text


class TraceQueries(QueryBase):
    """Queries of the Traces view and the waterfall."""

    # ------------------------------------------------------------------ the list

    def traces(
        self,
        *,
        session_id: str | None = None,
        text: str = "",
        sort: TraceSort = "start",
        descending: bool = True,
        limit: int = 500,
    ) -> list[TraceRow]:
        """The ``limit`` newest traces (by their first span's start), ordered by ``sort``.

        ``session_id`` keeps one session's traces. ``text`` keeps the traces whose id starts
        with it, or that have a span whose name, tool, model or session contains it, or (among
        the ``limit`` newest) whose prompt contains it. A trace is listed as soon as any of its
        spans is stored.
        """
        with self._cursor() as cur:
            if text:
                found, costs = self._filtered(cur, session_id, text.lower(), limit)
                extras = self._extras(cur, found, costs)
            elif session_id:
                # A session's window may start far back (at the beginning of time when it has
                # fewer than `limit` traces): its costs are read after the aggregate, from the
                # first start among its traces.
                since = self._window_start(cur, session_id, limit)
                found = _newest(self._aggregate(cur, since, None, session_id), limit)
                first = min((r[5] for r in found), default=None)
                costs = {} if first is None else self._costs(cur, first, None)
                extras = self._extras(cur, found, costs)
            else:
                since = self._window_start(cur, None, limit)
                found, costs = self._with_costs(cur, since, None, None, limit)
                extras = self._extras(cur, found, costs)
        rows = [
            TraceRow(
                trace_id=r[0],
                name=r[1],
                has_root=bool(r[2]),
                session_id=r[3],
                service_name=r[4],
                start_ns=r[5],
                end_ns=r[6],
                spans=r[7],
                errors=r[8],
                cost_usd=extras[r[0]].cost_usd,
                tokens=extras[r[0]].tokens,
                prompt=extras[r[0]].prompt,
            )
            for r in found
        ]
        return sort_traces(rows, sort, descending=descending)

    def _window_start(self, cur: Any, session_id: str | None, limit: int) -> int:
        """The start of the ``limit``-th newest root span, or no bound when there are fewer."""
        where, params = "", list[Any]([limit])
        if session_id:
            where, params = "AND session_id = ?", [session_id, limit]
        row = cur.execute(
            f"""
            SELECT count(*), min(start_ns) FROM (
                SELECT start_ns FROM spans WHERE parent_span_id IS NULL {where}
                ORDER BY start_ns DESC LIMIT ?
            )
            """,
            params,
        ).fetchone()
        return _NO_BOUND if row is None or row[0] < limit else int(row[1])

    def _with_costs(
        self, cur: Any, since: int, ids: list[str] | None, session_id: str | None, limit: int
    ) -> tuple[list[Any], dict[str, _Extras]]:
        """Aggregate rows of the ``limit`` newest traces with spans since ``since`` (of ``ids``,
        or all), and the costs of those traces (``ids``, or every trace since ``since``), read
        at once (see ``_at_once``)."""

        def aggregate(cur: Any) -> Any:
            return _newest(self._aggregate(cur, since, ids, session_id), limit)

        def costs(cur: Any) -> Any:
            return self._costs(cur, since, ids)

        found, extras = self._at_once(cur, aggregate, costs)
        return found, extras

    def _filtered(
        self, cur: Any, session_id: str | None, needle: str, limit: int
    ) -> tuple[list[Any], dict[str, _Extras]]:
        """Aggregate rows of the ``limit`` newest traces that match ``needle`` (lower case), and
        the costs of every trace considered.

        A trace matches by a span (see :meth:`_matching_traces`) or, among the traces the plain
        list shows, by its prompt. The two searches run at once, and so do the aggregate of the
        traces kept and the sum of their costs (:meth:`_with_costs`): ~8 ms each at a million.
        """

        def by_prompt(cur: Any) -> dict[str, int]:
            since = self._window_start(cur, session_id, limit)
            prompts = self._prompts(cur, self._recent(cur, since, session_id, limit))
            return {t: since for t, p in prompts.items() if p is not None and needle in p.lower()}

        def by_span(cur: Any) -> dict[str, int]:
            matched = self._matching_traces(cur, session_id, needle, limit)
            return {t: latest - TRACE_SLACK_NS for t, latest in matched.items()}

        # Each kept trace with the time it is aggregated from.
        prompted, spanned = self._at_once(cur, by_prompt, by_span)
        keep = spanned | prompted
        if not keep:
            return [], {}
        return self._with_costs(cur, min(keep.values()), sorted(keep), session_id, limit)

    def _recent(
        self, cur: Any, since: int, session_id: str | None, limit: int
    ) -> dict[str, tuple[int, int]]:
        """The ``limit`` newest of the traces with spans that started since ``since`` (the
        plain list's): their first start, and their rows (a span stored twice counts twice
        here: this only tells when a trace grows)."""
        where, params = "", list[Any]([since])
        if session_id:
            where = (
                "AND trace_id IN (SELECT trace_id FROM spans WHERE session_id = ?"
                " AND start_ns >= ?)"
            )
            params += [session_id, since]
        rows = cur.execute(
            f"""
            SELECT trace_id, min(start_ns), count(*) FROM spans
            WHERE start_ns >= ? {where} GROUP BY trace_id
            """,
            params,
        ).fetchall()
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)
        return {r[0]: (r[1], r[2]) for r in rows[:limit]}

    def _matching_traces(
        self, cur: Any, session_id: str | None, needle: str, limit: int
    ) -> dict[str, int]:
        """The ``limit`` traces whose latest span with an id, name, tool, model or session that
        matches ``needle`` started last: trace id -> that span's start, latest first.

        Matching every span costs ~15 ms at a million, most of it grouping the matches, and the
        latest matches are almost always among the last stored, which DuckDB reads alone when
        asked by ``rowid``. So, as the Events filter does (store/queries/events.py), this
        matches the most recently stored :data:`_FIRST_LOOK` spans, then older slices sized by
        the matches so far, until ``limit`` traces match (after :data:`_LOOKS` slices, the
        rest in one query). The ``limit``-th latest match bounds that query: an older stored
        span can only change the answer if it started at or after that time, and DuckDB reads
        only the row groups whose min/max start reach it.
        """
        match = """(starts_with(trace_id, ?) OR contains(lower(name), ?)
                    OR contains(lower(tool_name), ?) OR contains(lower(model), ?)
                    OR contains(lower(session_id), ?))"""
        params: list[Any] = [needle] * 5
        if session_id:
            match += " AND session_id = ?"
            params.append(session_id)
        last = cur.execute("SELECT max(rowid) FROM spans").fetchone()
        if last is None or last[0] is None:
            return {}
        found: dict[str, int] = {}

        def add(rows: list[Any]) -> None:
            for trace_id, latest in rows:
                if latest > found.get(trace_id, _NO_BOUND):
                    found[trace_id] = latest

        top = last[0]  # every rowid above `top` has been looked at
        size = _FIRST_LOOK
        for _ in range(_LOOKS):
            bottom = max(top - size, -1)
            add(
                cur.execute(
                    f"""
                    SELECT trace_id, max(start_ns) FROM spans
                    WHERE rowid > ? AND rowid <= ? AND {match} GROUP BY trace_id
                    """,
                    [bottom, top, *params],
                ).fetchall()
            )
            looked = last[0] - bottom
            top = bottom
            if top < 0 or len(found) >= limit:
                break
            size = next_look(looked, len(found), limit)
        if top >= 0:
            latest = sorted(found.values(), reverse=True)
            bound = latest[limit - 1 : limit]
            add(
                cur.execute(
                    f"""
                    SELECT trace_id, max(start_ns) AS latest FROM spans
                    WHERE rowid <= ? AND {"start_ns >= ? AND" if bound else ""} {match}
                    GROUP BY trace_id ORDER BY latest DESC, trace_id DESC LIMIT ?
                    """,
                    [top, *bound, *params, limit],
                ).fetchall()
            )
        newest = sorted(found.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return dict(newest[:limit])

    def _aggregate(
        self, cur: Any, since_ns: int, ids: Sequence[str] | None, session_id: str | None
    ) -> list[Any]:
        """Per trace: id, name, has root, session, service, start, end, spans, errors."""
        where = "start_ns >= ?"
        params: list[Any] = [since_ns]
        if ids is not None:
            where += " AND trace_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(ids))
        if session_id:
            # Through the trace, so that a span without the attribute still counts.
            where += (
                " AND trace_id IN (SELECT trace_id FROM spans WHERE session_id = ?"
                " AND start_ns >= ?)"
            )
            params += [session_id, since_ns]
        rows: list[Any] = cur.execute(
            f"""
            SELECT trace_id,
                   coalesce(arg_min(name, start_ns) FILTER (WHERE parent_span_id IS NULL),
                            arg_min(name, start_ns)),
                   bool_or(parent_span_id IS NULL),
                   coalesce(max(session_id) FILTER (WHERE parent_span_id IS NULL),
                            max(session_id)),
                   coalesce(max(service_name) FILTER (WHERE parent_span_id IS NULL),
                            max(service_name)),
                   min(start_ns), max(end_ns),
                   count(DISTINCT span_id),
                   count(DISTINCT span_id) FILTER (WHERE status_code = 'error')
            FROM spans
            WHERE {where}
            GROUP BY trace_id
            """,
            params,
        ).fetchall()
        return rows

    def _extras(self, cur: Any, found: list[Any], costs: dict[str, _Extras]) -> dict[str, _Extras]:
        """Cost, tokens and prompt of each trace in ``found``.

        Cost and tokens come from the ``api_request`` events' promoted columns. JSON is slow to
        read at this scale (the column is compressed), so it is read only where needed: the
        prompt of traces not seen before (a prompt never changes, so it is remembered), and the
        ``llm_request`` spans' tokens of traces without ``api_request`` events. ``costs`` are
        the traces' from :meth:`_costs` (it may hold other traces too: reading every trace's
        events since a time and picking in Python is several times faster than a join).
        """
        if not found:
            return {}
        starts = {r[0]: r[5] for r in found}
        out = {r[0]: costs.get(r[0]) or _Extras() for r in found}
        # Traces without events: their logs were not exported, or not yet (the newest). Their
        # spans' tokens are remembered for as long as the trace keeps its number of spans.
        spans = {r[0]: r[7] for r in found}
        counted: dict[str, tuple[int, int | None]] = self._memo("tokens")
        unpriced = []
        for trace_id, extra in out.items():
            if extra.requests:
                continue
            known = counted.get(trace_id)
            if known is not None and known[0] == spans[trace_id]:
                extra.tokens = known[1]
            else:
                unpriced.append(trace_id)

        def prompts(cur: Any) -> dict[str, str | None]:
            return self._prompts(cur, {r[0]: (r[5], r[7]) for r in found})

        def span_tokens(cur: Any) -> list[Any]:
            rows: list[Any] = cur.execute(
                f"""
                SELECT trace_id, sum(coalesce(i, 0) + coalesce(o, 0) + coalesce(r, 0)
                                     + coalesce(c, 0))
                FROM (
                    SELECT trace_id, span_id, {_SPAN_TOKEN_COLUMNS}
                    FROM spans
                    WHERE span_type = 'llm_request' AND start_ns >= ?
                          AND list_contains(?::VARCHAR[], trace_id)
                    GROUP BY trace_id, span_id
                )
                GROUP BY trace_id
                """,
                [min(starts[t] for t in unpriced), unpriced],
            ).fetchall()
            return rows

        # Both read only what is not remembered (the newest traces'): at once when both do.
        # The prompts come first, on this thread: the memos are changed on it alone.
        calls = (prompts, span_tokens) if unpriced else (prompts,)
        found_prompts, *found_tokens = self._at_once(cur, *calls)
        for trace_id, prompt in found_prompts.items():
            out[trace_id].prompt = prompt
        for trace_id, tokens in found_tokens[0] if found_tokens else []:
            if tokens:
                # Spans without token attributes say nothing about tokens (not zero).
                out[trace_id].tokens = (out[trace_id].tokens or 0) + int(tokens)
        for trace_id in unpriced:
            counted[trace_id] = (spans[trace_id], out[trace_id].tokens)
        return out

    def _costs(self, cur: Any, since: int, ids: list[str] | None) -> dict[str, _Extras]:
        """Requests, cost and tokens from the ``api_request`` events of the traces ``ids`` (or
        of every trace) that started since ``since``; each event counted once."""
        pick = "" if ids is None else "AND trace_id IN (SELECT unnest(?::VARCHAR[]))"
        out: dict[str, _Extras] = {}
        seen: set[tuple[Any, ...]] = set()
        for trace_id, session, seq, time_ns, cost, tokens in cur.execute(
            f"""
            SELECT trace_id, session_id, event_sequence, time_ns, cost_usd,
                   coalesce(input_tokens, 0) + coalesce(output_tokens, 0)
                   + coalesce(cache_read_tokens, 0) + coalesce(cache_creation_tokens, 0)
            FROM log_events
            WHERE event_name = 'api_request' AND time_ns >= ? AND trace_id IS NOT NULL {pick}
            """,
            [since - EVENT_SLACK_NS, *([] if ids is None else [ids])],
        ).fetchall():
            key = (trace_id, session, seq, time_ns)
            if key in seen:
                continue
            seen.add(key)
            extra = out.setdefault(trace_id, _Extras())
            extra.requests += 1
            extra.cost_usd = (extra.cost_usd or 0.0) + (cost or 0.0)
            extra.tokens = (extra.tokens or 0) + int(tokens)
        return out

    def _prompts(self, cur: Any, traces: dict[str, tuple[int, int]]) -> dict[str, str | None]:
        """The prompt of each of ``traces`` (id -> first start and number of spans), ``None``
        when it has none or it was redacted.

        From the ``user_prompt`` events, else the ``interaction`` span's ``user_prompt``. Only
        traces not seen before are read: a prompt never changes. A trace without one is read
        again once it has more spans, or after a while (its events may still be on their way).
        """
        prompts = self._known_prompts()
        missing: dict[str, tuple[int, float]] = self._memo("without prompt")
        now = time.monotonic()
        unknown = [
            t
            for t, (_, spans) in traces.items()
            if t not in prompts
            and not (t in missing and missing[t][0] == spans and missing[t][1] > now)
        ]
        if unknown:
            for trace_id, prompt in cur.execute(
                """
                SELECT trace_id, attributes->>'prompt' FROM log_events
                WHERE event_name = 'user_prompt' AND time_ns >= ?
                      AND list_contains(?::VARCHAR[], trace_id)
                """,
                [min(traces[t][0] for t in unknown) - EVENT_SLACK_NS, unknown],
            ).fetchall():
                prompts[trace_id] = prompts.get(trace_id) or _prompt(prompt)
            unprompted = [t for t in unknown if t not in prompts]
            if unprompted:
                for trace_id, prompt in cur.execute(
                    """
                    SELECT trace_id, max(attributes->>'user_prompt') FROM spans
                    WHERE span_type = 'interaction' AND start_ns >= ?
                          AND list_contains(?::VARCHAR[], trace_id)
                    GROUP BY trace_id
                    """,
                    [min(traces[t][0] for t in unprompted), unprompted],
                ).fetchall():
                    prompts[trace_id] = _prompt(prompt)
            for trace_id in unknown:
                if trace_id not in prompts:
                    missing[trace_id] = (traces[trace_id][1], now + RECHECK_PROMPT_S)
        return {t: prompts.get(t) for t in traces}

    def _known_prompts(self) -> dict[str, str | None]:
        """Prompts already read, by trace (``None``: redacted): a prompt never changes."""
        memo: dict[str, str | None] = self._memo("prompts")
        return memo

    def _memo(self, name: str) -> Any:
        """A dict by trace id kept between this reader's calls (any thread may use it: a lost
        update only means reading again)."""
        memos: dict[str, _Bounded] = self.__dict__.setdefault("_trace_memos", {})
        return memos.setdefault(name, _Bounded())

    # ------------------------------------------------------------------ one trace

    def trace_ids(self, prefix: str, *, limit: int = 2) -> list[str]:
        """Ids of stored traces that start with ``prefix`` (case-insensitive), at most ``limit``."""
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT DISTINCT trace_id FROM spans WHERE starts_with(trace_id, ?) "
                "ORDER BY trace_id LIMIT ?",
                [prefix.strip().lower(), limit],
            ).fetchall()
        return [r[0] for r in rows]

    def trace(self, trace_id: str, *, limit: int = MAX_TRACE_SPANS) -> Trace | None:
        """Every span of one trace, oldest first, with its usage and prompt; ``None`` if none."""
        with self._cursor() as cur:
            # Repeats are dropped here rather than with DISTINCT ON, which costs DuckDB more
            # than the whole query (a repeat is the same span stored again).
            fetched = cur.execute(
                """
                SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, status_code,
                       span_type, tool_name, model, service_name, session_id
                FROM spans WHERE trace_id = ?
                ORDER BY start_ns, span_id
                """,
                [trace_id],
            ).fetchall()
            if not fetched:
                return None
            first: dict[str, Any] = {}
            for r in fetched:
                first.setdefault(r[0], r)
            rows = list(first.values())
            since = rows[0][4]
            usage = self._turn_usage(cur, trace_id, since - EVENT_SLACK_NS)
            prompt, length = self._trace_prompt(cur, trace_id, since - EVENT_SLACK_NS)
        roots = [r for r in rows if r[1] is None]
        session = (roots[0] if roots else rows[0])[11]
        if session is None:
            session = next((r[11] for r in rows if r[11]), None)
        return Trace(
            trace_id=trace_id,
            spans=tuple(TraceSpan(*r[:11]) for r in rows[:limit]),
            truncated=len(rows) > limit,
            session_id=session,
            usage=usage,
            prompt=prompt,
            prompt_length=length,
        )

    def _turn_usage(self, cur: Any, trace_id: str, since: int) -> TurnUsage | None:
        row = cur.execute(
            """
            SELECT count(*), sum(cost_usd), sum(input_tokens), sum(output_tokens),
                   sum(cache_read_tokens), sum(cache_creation_tokens)
            FROM (SELECT DISTINCT ON (session_id, event_sequence, time_ns) * FROM log_events
                  WHERE trace_id = ? AND event_name = 'api_request' AND time_ns >= ?)
            """,
            [trace_id, since],
        ).fetchone()
        if row and row[0]:
            return TurnUsage(
                cost_usd=row[1],
                input_tokens=int(row[2] or 0),
                output_tokens=int(row[3] or 0),
                cache_read_tokens=int(row[4] or 0),
                cache_creation_tokens=int(row[5] or 0),
                requests=int(row[0]),
                from_events=True,
            )
        row = cur.execute(
            f"""
            SELECT count(*), sum(i), sum(o), sum(r), sum(c) FROM (
                SELECT span_id, {_SPAN_TOKEN_COLUMNS}
                FROM spans
                WHERE trace_id = ? AND span_type = 'llm_request' AND start_ns >= ?
                GROUP BY span_id
            )
            """,
            [trace_id, since],
        ).fetchone()
        if not row or not row[0]:
            return None
        return TurnUsage(
            cost_usd=None,
            input_tokens=int(row[1] or 0),
            output_tokens=int(row[2] or 0),
            cache_read_tokens=int(row[3] or 0),
            cache_creation_tokens=int(row[4] or 0),
            requests=int(row[0]),
            from_events=False,
        )

    def _trace_prompt(self, cur: Any, trace_id: str, since: int) -> tuple[str | None, int | None]:
        rows = cur.execute(
            """
            SELECT attributes->>'prompt', TRY_CAST(attributes->>'prompt_length' AS BIGINT)
            FROM log_events
            WHERE trace_id = ? AND event_name = 'user_prompt' AND time_ns >= ?
            UNION ALL
            SELECT attributes->>'user_prompt',
                   TRY_CAST(attributes->>'user_prompt_length' AS BIGINT)
            FROM spans WHERE trace_id = ? AND span_type = 'interaction' AND start_ns >= ?
            """,
            [trace_id, since, trace_id, since + EVENT_SLACK_NS],
        ).fetchall()
        text = next((p for p in (_prompt(r[0]) for r in rows) if p is not None), None)
        length = next((int(r[1]) for r in rows if r[1]), None)
        if length is None and text is not None:
            length = len(text)
        return text, length

    def trace_search(self, trace_id: str, text: str, *, limit: int = 10_000) -> list[str]:
        """Ids of the spans of ``trace_id`` whose name, status message, any attribute or any
        span event contains ``text`` (case-insensitive), oldest first."""
        pattern = like_pattern(text)
        with self._cursor() as cur:
            rows = cur.execute(
                """
                SELECT span_id FROM spans
                WHERE trace_id = ?
                  AND (name ILIKE ? ESCAPE '\\' OR status_message ILIKE ? ESCAPE '\\'
                       OR CAST(attributes AS VARCHAR) ILIKE ? ESCAPE '\\'
                       OR CAST(events AS VARCHAR) ILIKE ? ESCAPE '\\')
                GROUP BY span_id ORDER BY min(start_ns), span_id LIMIT ?
                """,
                [trace_id, pattern, pattern, pattern, pattern, limit],
            ).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ one span

    def span_detail(self, trace_id: str, span_id: str) -> SpanDetail | None:
        """One span with every attribute, event and link, its resource, and its log events."""
        with self._cursor() as cur:
            row = cur.execute(
                """
                SELECT s.span_id, s.parent_span_id, s.name, s.kind, s.start_ns, s.end_ns,
                       s.status_code, s.status_message, s.service_name, s.scope_name,
                       s.scope_version, s.trace_state, s.attributes, s.events, s.links,
                       r.attributes
                FROM spans s LEFT JOIN resources r USING (resource_id)
                WHERE s.trace_id = ? AND s.span_id = ?
                ORDER BY s.received_ns DESC LIMIT 1
                """,
                [trace_id, span_id],
            ).fetchone()
            if row is None:
                return None
            attributes = _json(row[12]) or {}
            keys = [
                str(attributes[k])
                for k in ("tool_use_id", "gen_ai.tool.call.id", "request_id")
                if attributes.get(k)
            ]
            logs = cur.execute(
                """
                SELECT DISTINCT ON (time_ns, event_name, span_id, event_sequence)
                       time_ns, event_name, span_id, attributes
                FROM log_events
                WHERE trace_id = ?
                  AND (span_id = ?
                       OR list_contains(?::VARCHAR[], attributes->>'tool_use_id')
                       OR list_contains(?::VARCHAR[], attributes->>'request_id'))
                ORDER BY time_ns, event_name, span_id, event_sequence
                LIMIT 500
                """,
                [trace_id, span_id, keys, keys],
            ).fetchall()
        return SpanDetail(
            trace_id=trace_id,
            span_id=row[0],
            parent_span_id=row[1],
            name=row[2],
            kind=row[3],
            start_ns=row[4],
            end_ns=row[5],
            status_code=row[6],
            status_message=row[7],
            service_name=row[8],
            scope_name=row[9],
            scope_version=row[10],
            trace_state=row[11],
            attributes=attributes,
            events=tuple(
                SpanEvent(
                    int(e.get("time_ns") or 0), str(e.get("name") or ""), e.get("attributes") or {}
                )
                for e in (_json(row[13]) or [])
            ),
            links=tuple(
                SpanLink(
                    str(k.get("trace_id") or ""),
                    str(k.get("span_id") or ""),
                    k.get("attributes") or {},
                )
                for k in (_json(row[14]) or [])
            ),
            resource=_json(row[15]) or {},
            log_events=tuple(TraceLogEvent(r[0], r[1], r[2], _json(r[3]) or {}) for r in logs),
        )


def sort_traces(
    rows: list[TraceRow], sort: TraceSort, *, descending: bool = True
) -> list[TraceRow]:
    """``rows`` ordered by ``sort``; ties, and traces without a cost, by start, newest first."""

    def key(row: TraceRow) -> tuple[float, int]:
        if sort == "duration":
            value: float = row.duration_ns
        elif sort == "cost":
            value = row.cost_usd if row.cost_usd is not None else -1.0
        elif sort == "errors":
            value = row.errors
        else:
            value = row.start_ns
        return (value, row.start_ns)

    return sorted(rows, key=key, reverse=descending)
