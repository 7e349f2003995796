"""The Markdown export, for a pull request or a ticket: GitHub-flavoured tables, no raw HTML.

Telemetry text is escaped so it can neither break a table (``|``, newlines) nor be rendered as
Markdown or HTML (``*``, ``[``, ``<``); ids and commands go in code spans only when they are plain.
"""

from __future__ import annotations

import html
import re

from otelwatch import __version__
from otelwatch.export import text as t
from otelwatch.store.queries.summary import SessionSummary
from otelwatch.tui.format import printable

# Characters that mean something anywhere in a line, and what means something at its start.
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LEADING = re.compile(r"^([#+=>-]|\d+[.)](?=\s|$))")
_SPACE = re.compile(r"\s+")
_PLAIN_CODE = re.compile(r"[A-Za-z0-9 ._:/=-]+")


def escape(value: str, *, leading: bool = True) -> str:
    """Text that Markdown shows literally, on one line.

    ``leading`` also escapes what would start a heading, list or quote: for text that may begin
    a line.
    """
    flat = _SPACE.sub(" ", printable(value).replace("\u2424", " "))
    escaped = _SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))
    return _LEADING.sub(r"\\\1", escaped) if leading else escaped


def prose(value: str) -> str:
    """Our own wording: its `code spans` stay code, the rest is escaped."""
    parts = value.split("`")
    return "".join(
        f"`{part}`" if i % 2 else escape(part, leading=i == 0) for i, part in enumerate(parts)
    )


def cell(value: str) -> str:
    """A table cell: code for plain ids and commands, escaped text otherwise."""
    if isinstance(value, t.Code) and _PLAIN_CODE.fullmatch(value):
        return f"`{value}`"
    return escape(value.strip())


def table(tbl: t.Table) -> str:
    """A GitHub-flavoured Markdown table, numbers right-aligned."""
    lines = [
        "| " + " | ".join(escape(h) for h in tbl.headers) + " |",
        "|" + "|".join("---:" if num else "---" for num in tbl.numeric) + "|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in tbl.rows]
    return "\n".join(lines)


def render_markdown(s: SessionSummary) -> str:
    """The summary as a Markdown document."""
    out = [f"# {escape(t.title(s))}", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {escape(label)} | {cell(value)} |" for label, value in t.facts(s)]
    out += ["", "## Cost and tokens", ""]
    if s.cost_usd is not None:
        out.append(f"**{escape(t.money(s.cost_usd))}** in all, {prose(t.cost_source(s))}.")
    else:
        out.append("No cost was reported.")
    out += ["", escape(t.tokens_line(s)), ""]
    if s.cost_by_model:
        out += [table(t.models_table(s)), ""]
    out += ["## API requests", ""]
    if s.api.source:
        out += [prose(t.source("api", s.api.source)), "", table(t.api_table(s)), ""]
    else:
        out += ["No model requests were reported.", ""]
    out += ["## Tools", ""]
    if s.tools:
        out += [prose(t.source("tools", s.tools_source)), "", table(t.tools_table(s)), ""]
        if s.tools_total > len(s.tools):
            out += [f"The {len(s.tools)} most used of {s.tools_total} tools.", ""]
    else:
        out += ["No tool calls were reported.", ""]
    out += ["## Code changes", "", table(t.code_table(s)), ""]
    out += ["## Turns", ""]
    if s.turns:
        out += [table(t.turns_table(s)), ""]
        if s.turns_total > len(s.turns):
            out += [f"The first {len(s.turns)} of {s.turns_total} turns.", ""]
        out += ["### Slowest turns", "", table(t.slowest_table(s)), ""]
    else:
        out += ["No prompts were reported.", ""]
    prompts = t.prompts(s)
    if prompts:
        out += ["## Prompts", ""]
        for n, prompt in prompts:
            out += [f"{n}. {escape(prompt)}"]
        out.append("")
    elif note := t.prompts_note(s):
        out += [prose(note), ""]
    out.append(f"<sub>Written by otelwatch {escape(__version__)}; times in UTC.</sub>")
    return "\n".join(out) + "\n"
