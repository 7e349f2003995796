"""A session summary written out: Markdown for a pull request, JSON for tools, HTML for a browser.

Each renderer is a pure function of :class:`~otelwatch.store.queries.summary.SessionSummary`, so
the same summary reads the same whether it came from the database file or from a running
otelwatch (see ``otelwatch.control``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from otelwatch.export.html import render_html
from otelwatch.export.json_doc import render_json
from otelwatch.export.markdown import render_markdown
from otelwatch.store.queries.summary import SessionSummary


class SummarySource(Protocol):
    """Whatever answers the summary query: the store's Reader, or a running otelwatch."""

    def session_summary(
        self, session_id: str, *, include_prompts: bool = False
    ) -> SessionSummary: ...


RENDERERS: dict[str, Callable[[SessionSummary], str]] = {
    "md": render_markdown,
    "json": render_json,
    "html": render_html,
}
FORMATS = tuple(RENDERERS)


def render(summary: SessionSummary, fmt: str) -> str:
    """The summary in format ``fmt`` (``md``, ``json`` or ``html``)."""
    return RENDERERS[fmt](summary)


def summary_file_name(session_id: str, fmt: str = "md") -> str:
    """The file name a session's summary is written to: ``otelwatch-session-<id8>.md``."""
    safe = "".join(c for c in session_id[:8] if c.isalnum() or c in "-_") or "session"
    return f"otelwatch-session-{safe}.{fmt}"


def write_summary_file(
    source: SummarySource, session_id: str, directory: Path, fmt: str = "md"
) -> Path:
    """Write the summary of ``session_id`` into ``directory``; returns the file written.

    The dashboard's ``x`` key calls this (in a worker thread). Raises ``OSError`` when the file
    cannot be written and the store's errors when the session cannot be read.
    """
    summary = source.session_summary(session_id)
    target = directory / summary_file_name(session_id, fmt)
    target.write_text(render(summary, fmt), encoding="utf-8")
    return target
