"""The JSON export: a stable, documented contract (``docs/export.md``).

``format_version`` changes only when a field is removed or changes meaning; new fields may be added
within a version, so readers should ignore keys they do not know.
"""

from __future__ import annotations

import json
from typing import Any

from otelwatch import __version__
from otelwatch.export.text import iso, trace_command
from otelwatch.store.queries.summary import SessionSummary, TokenCounts, Turn

FORMAT = "otelwatch.session-summary"
FORMAT_VERSION = 1


def _tokens(t: TokenCounts) -> dict[str, Any]:
    return {
        "input": t.input,
        "output": t.output,
        "cache_read": t.cache_read,
        "cache_creation": t.cache_creation,
        "total": t.total,
        "cache_hit_ratio": t.cache_hit_ratio,
    }


def _turn(turn: Turn, prompts: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "prompt_id": turn.prompt_id,
        "trace_id": turn.trace_id,
        "start": iso(turn.start_ns),
        "start_ns": turn.start_ns,
        "duration_ms": turn.duration_ms,
        "cost_usd": turn.cost_usd,
        "tokens": _tokens(turn.tokens),
        "api_requests": turn.api_requests,
        "api_errors": turn.api_errors,
        "tool_calls": turn.tool_calls,
        "tool_failures": turn.tool_failures,
        "errors": turn.errors,
    }
    if prompts:
        doc["prompt"] = turn.prompt
    return doc


def summary_document(s: SessionSummary) -> dict[str, Any]:
    """The summary as the JSON object of the contract."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": f"otelwatch {__version__}",
        "session_id": s.session_id,
        "start": iso(s.start_ns),
        "end": iso(s.end_ns),
        "start_ns": s.start_ns,
        "end_ns": s.end_ns,
        "wall_ms": s.wall_ms,
        "active_s": s.active_s,
        "active_user_s": s.active_user_s,
        "active_cli_s": s.active_cli_s,
        "services": list(s.services),
        "models": list(s.models),
        "cost_usd": s.cost_usd,
        "cost_source": s.cost_source,
        "cost_by_model": [
            {
                "model": m.model,
                "cost_usd": m.cost_usd,
                "requests": m.requests,
                "tokens": _tokens(m.tokens),
            }
            for m in s.cost_by_model
        ],
        "tokens": _tokens(s.tokens),
        "tokens_source": s.tokens_source,
        "api": {
            "source": s.api.source,
            "requests": s.api.requests,
            "errors": s.api.errors,
            "retries": s.api.retries,
            "retries_exhausted": s.api.retries_exhausted,
            "refusals": s.api.refusals,
            "latency_p50_ms": s.api.latency_p50_ms,
            "latency_p95_ms": s.api.latency_p95_ms,
            "ttft_p50_ms": s.api.ttft_p50_ms,
        },
        "tools_source": s.tools_source,
        "tools": [
            {
                "name": t.name,
                "calls": t.calls,
                "failures": t.failures,
                "p50_ms": t.p50_ms,
                "p95_ms": t.p95_ms,
                "rejections": t.rejections,
            }
            for t in s.tools
        ],
        "tools_total": s.tools_total,
        "code": {
            "lines_added": s.code.lines_added,
            "lines_removed": s.code.lines_removed,
            "commits": s.code.commits,
            "pull_requests": s.code.pull_requests,
        },
        "turns": [_turn(t, s.prompts_included) for t in s.turns],
        "turns_total": s.turns_total,
        "slowest_turns": [
            {
                "prompt_id": t.prompt_id,
                "trace_id": t.trace_id,
                "duration_ms": t.duration_ms,
                "command": trace_command(t),
            }
            for t in s.slowest_turns
        ],
        "prompts_included": s.prompts_included,
    }


def render_json(summary: SessionSummary) -> str:
    """The summary as indented JSON text, ending with a newline."""
    return json.dumps(summary_document(summary), indent=2, ensure_ascii=False) + "\n"
