"""Wording and number formats the three renderers share."""

from __future__ import annotations

import time
from dataclasses import dataclass

from otelwatch.store.queries.summary import (
    SOURCE_EVENTS,
    SOURCE_METRICS,
    SOURCE_SPANS,
    SessionSummary,
    Turn,
)
from otelwatch.tui import format as fmt

duration_ms = fmt.duration_ms
percent = fmt.percent
count = fmt.count


def money(usd: float | None) -> str:
    """Dollars, with four decimals below a dollar: a summary is read closely."""
    if usd is not None and 0 < abs(usd) < 1:
        return f"${usd:.4f}" if usd > 0 else f"-${-usd:.4f}"
    return fmt.money(usd)


def utc(ns: int, *, with_date: bool = True) -> str:
    """A time in UTC, to the second: ``2026-11-23 07:45:20 UTC`` (summaries travel)."""
    pattern = "%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S"
    return time.strftime(pattern, time.gmtime(ns / 1e9))


def iso(ns: int) -> str:
    """RFC 3339 in UTC with milliseconds: ``2026-11-23T07:45:20.370Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + (
        f".{ns // 10**6 % 1000:03d}Z"
    )


def seconds(s: float | None) -> str:
    """Seconds of active time, as a duration."""
    return "not reported" if s is None else fmt.duration_ms(s * 1000)


def tokens(n: int) -> str:
    """A token count: compact, exact below a thousand."""
    return fmt.compact(n)


def optional_count(n: int | None) -> str:
    """A counter Claude Code may never have sent."""
    return "not reported" if n is None else fmt.count(n)


def trace_command(turn: Turn) -> str | None:
    """The command that opens a turn's trace in otelwatch."""
    return f"otelwatch trace {turn.trace_id}" if turn.trace_id else None


# Our own wording may hold `code spans` (never telemetry): each renderer shows them as code.
_SOURCES = {
    ("cost", SOURCE_EVENTS): "the `api_request` events",
    ("cost", SOURCE_METRICS): "the `claude_code.cost.usage` and `claude_code.token.usage` metrics",
    ("api", SOURCE_EVENTS): "the `api_request`, `api_error` and `api_retries_exhausted` events",
    ("api", SOURCE_SPANS): "the `llm_request` spans",
    ("tools", SOURCE_EVENTS): "the `tool_result` and `tool_decision` events",
    ("tools", SOURCE_SPANS): "the `tool` spans",
}


def cost_source(summary: SessionSummary) -> str:
    """Where the cost came from, as a sentence part (prose)."""
    if summary.cost_source is None:
        return "no cost was reported"
    return f"counted once, from {_SOURCES[('cost', summary.cost_source)]}"


def source(section: str, name: str | None) -> str:
    """Where a section's figures came from (prose)."""
    return f"From {_SOURCES.get((section, name or ''), 'no data')}."


def title(summary: SessionSummary) -> str:
    """The summary's heading."""
    return f"Claude Code session {summary.session_id[:8]}"


def turn_errors(turn: Turn) -> str:
    """Errors of a turn, with what failed."""
    if not turn.errors:
        return "0"
    parts = []
    if turn.api_errors:
        parts.append(f"{turn.api_errors} API")
    if turn.tool_failures:
        parts.append(f"{turn.tool_failures} tool")
    return f"{turn.errors} ({', '.join(parts)})"


# ---------------------------------------------------------------- the tables both documents show
# Cells are plain text; each renderer escapes them for its format. A `Code` cell is shown as code.


class Code(str):
    """A cell shown as code: an id or a command."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the summary: headers, which columns are numbers, rows of text cells."""

    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]


def _days(s: SessionSummary) -> int:
    """How many UTC dates the session touches (1 or more)."""
    first, last = (time.gmtime(ns / 1e9)[:3] for ns in (s.start_ns, s.end_ns))
    return 1 if first == last else 2


def facts(s: SessionSummary) -> list[tuple[str, str]]:
    """The overview: label and value."""
    end = utc(s.end_ns, with_date=_days(s) > 1)
    active = seconds(s.active_s)
    split = [
        f"{who} {seconds(value)}"
        for who, value in (("you", s.active_user_s), ("Claude Code", s.active_cli_s))
        if value is not None
    ]
    if split:
        active += f" ({', '.join(split)})"
    rows = [
        ("Session", Code(s.session_id)),
        ("Time", f"{utc(s.start_ns)} → {end}"),
        ("Wall time", duration_ms(s.wall_ms)),
        ("Active time", active),
        ("Models", ", ".join(s.models) or "none reported"),
        ("Cost", money(s.cost_usd) if s.cost_usd is not None else "not reported"),
        ("Prompts", count(s.turns_total)),
    ]
    if s.services:
        rows.append(("Sent by", ", ".join(s.services)))
    return rows


def tokens_line(s: SessionSummary) -> str:
    """Tokens by type and the cache hit ratio, as one sentence."""
    t = s.tokens
    if not t.total:
        return "No tokens were reported."
    return (
        f"Tokens: {tokens(t.input)} input, {tokens(t.output)} output, "
        f"{tokens(t.cache_read)} cache read, {tokens(t.cache_creation)} cache write "
        f"({tokens(t.total)} in all); cache hit ratio {percent(t.cache_hit_ratio)}."
    )


def models_table(s: SessionSummary) -> Table:
    """Cost and tokens by model."""
    return Table(
        ("model", "requests", "cost", "input", "output", "cache read", "cache write"),
        (False, True, True, True, True, True, True),
        tuple(
            (
                m.model or "(none)",
                "–" if m.requests is None else count(m.requests),
                money(m.cost_usd),
                tokens(m.tokens.input),
                tokens(m.tokens.output),
                tokens(m.tokens.cache_read),
                tokens(m.tokens.cache_creation),
            )
            for m in s.cost_by_model
        ),
    )


def api_table(s: SessionSummary) -> Table:
    """Model requests in one row."""
    a = s.api
    return Table(
        (
            "requests",
            "errors",
            "retries",
            "retries exhausted",
            "latency p50",
            "latency p95",
            "time to first token p50",
        ),
        (True,) * 7,
        (
            (
                count(a.requests),
                count(a.errors),
                count(a.retries),
                count(a.retries_exhausted),
                duration_ms(a.latency_p50_ms),
                duration_ms(a.latency_p95_ms),
                duration_ms(a.ttft_p50_ms),
            ),
        ),
    )


def tools_table(s: SessionSummary) -> Table:
    """One row per tool."""
    return Table(
        ("tool", "calls", "failures", "p50", "p95", "rejected"),
        (False, True, True, True, True, True),
        tuple(
            (
                t.name,
                count(t.calls),
                count(t.failures),
                duration_ms(t.p50_ms),
                duration_ms(t.p95_ms),
                count(t.rejections),
            )
            for t in s.tools
        ),
    )


def code_table(s: SessionSummary) -> Table:
    """Lines, commits and pull requests in one row."""
    c = s.code
    return Table(
        ("lines added", "lines removed", "commits", "pull requests"),
        (True,) * 4,
        (
            (
                optional_count(c.lines_added),
                optional_count(c.lines_removed),
                optional_count(c.commits),
                optional_count(c.pull_requests),
            ),
        ),
    )


def turns_table(s: SessionSummary) -> Table:
    """One row per prompt."""
    multi_day = _days(s) > 1
    return Table(
        ("#", "time (UTC)", "duration", "cost", "tokens", "requests", "tools", "errors", "trace"),
        (True, False, True, True, True, True, True, True, False),
        tuple(
            (
                str(n),
                utc(t.start_ns, with_date=multi_day),
                duration_ms(t.duration_ms),
                money(t.cost_usd),
                tokens(t.tokens.total),
                count(t.api_requests),
                count(t.tool_calls),
                turn_errors(t),
                Code(t.trace_id) if t.trace_id else "–",
            )
            for n, t in enumerate(s.turns, 1)
        ),
    )


def turn_number(s: SessionSummary, turn: Turn) -> int | None:
    """The position of ``turn`` in the turns table, 1-based."""
    for n, t in enumerate(s.turns, 1):
        if t.prompt_id == turn.prompt_id and t.trace_id == turn.trace_id:
            return n
    return None


def slowest_table(s: SessionSummary) -> Table:
    """The slowest turns with the command that opens each trace."""
    return Table(
        ("turn", "duration", "cost", "open the trace with"),
        (True, True, True, False),
        tuple(
            (
                str(turn_number(s, t) or "–"),
                duration_ms(t.duration_ms),
                money(t.cost_usd),
                Code(trace_command(t) or "") if t.trace_id else "no trace",
            )
            for t in s.slowest_turns
        ),
    )


def prompts(s: SessionSummary) -> list[tuple[int, str]]:
    """The exported prompt texts with their turn number."""
    return [(n, t.prompt) for n, t in enumerate(s.turns, 1) if t.prompt]


def prompts_note(s: SessionSummary) -> str | None:
    """Why no prompt text is shown although it was asked for."""
    if s.prompts_included and not prompts(s):
        return (
            "No prompt text was exported: Claude Code sends it only with `OTEL_LOG_USER_PROMPTS=1`."
        )
    return None
