"""A session summary written out: Markdown for a pull request, JSON for tools, HTML for a browser.

Each renderer is a pure function of :class:`~otelwatch.store.queries.summary.SessionSummary`, so
the same summary reads the same whether it came from the database file or from a running
otelwatch (see ``otelwatch.control``).
"""

from __future__ import annotations

from collections.abc import Callable

from otelwatch.export.html import render_html
from otelwatch.export.json_doc import render_json
from otelwatch.export.markdown import render_markdown
from otelwatch.store.queries.summary import SessionSummary

RENDERERS: dict[str, Callable[[SessionSummary], str]] = {
    "md": render_markdown,
    "json": render_json,
    "html": render_html,
}
FORMATS = tuple(RENDERERS)


def render(summary: SessionSummary, fmt: str) -> str:
    """The summary in format ``fmt`` (``md``, ``json`` or ``html``)."""
    return RENDERERS[fmt](summary)
