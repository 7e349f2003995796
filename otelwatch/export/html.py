"""The HTML export: one self-contained file (inline CSS, no scripts, no external references).

Every piece of telemetry text goes through :func:`html.escape`, so a tool name or prompt can never
add markup to the page.
"""

from __future__ import annotations

import html

from otelwatch import __version__
from otelwatch.export import text as t
from otelwatch.store.queries.summary import SessionSummary
from otelwatch.tui.format import printable

# Light and dark from the reader's own preference; system fonts only, nothing to fetch.
_STYLE = """
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
        --head: #f6f8fa; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --head: #151b23; --accent: #4493f8; }
}
body { font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial,
       sans-serif; color: var(--fg); max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .7rem; vertical-align: top; }
th { background: var(--head); text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { background: none; color: var(--muted); font-weight: normal; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.total { font-size: 1.3rem; font-weight: 600; color: var(--accent); }
.muted, footer { color: var(--muted); }
blockquote { margin: .3rem 0 .8rem; padding: 0 .8rem; border-left: .25rem solid var(--line);
             white-space: pre-wrap; }
"""


def _text(value: str) -> str:
    return html.escape(printable(value).replace("\u2424", "\n"))


def _prose(value: str) -> str:
    """Our own wording: its `code spans` become <code>, everything escaped."""
    parts = value.split("`")
    return "".join(
        f"<code>{_text(part)}</code>" if i % 2 else _text(part) for i, part in enumerate(parts)
    )


def _cell(value: str, numeric: bool, tag: str = "td") -> str:
    body = f"<code>{_text(value)}</code>" if isinstance(value, t.Code) else _text(value)
    cls = ' class="num"' if numeric else ""
    return f"<{tag}{cls}>{body}</{tag}>"


def _table(tbl: t.Table) -> str:
    head = "".join(_cell(h, num, "th") for h, num in zip(tbl.headers, tbl.numeric, strict=True))
    rows = "".join(
        "<tr>" + "".join(_cell(c, num) for c, num in zip(row, tbl.numeric, strict=True)) + "</tr>"
        for row in tbl.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _p(value: str, cls: str = "") -> str:
    """A paragraph of our own wording."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{_prose(value)}</p>"


def render_html(s: SessionSummary) -> str:
    """The summary as a complete HTML page."""
    body = [f"<h1>{_text(t.title(s))}</h1>", '<table class="facts">']
    body += [
        f"<tr><th>{_text(label)}</th>{_cell(value, False)}</tr>" for label, value in t.facts(s)
    ]
    body += ["</table>", "<h2>Cost and tokens</h2>"]
    if s.cost_usd is not None:
        body.append(
            f'<p><span class="total">{_text(t.money(s.cost_usd))}</span> in all, '
            f"{_prose(t.cost_source(s))}.</p>"
        )
    else:
        body.append(_p("No cost was reported."))
    body.append(_p(t.tokens_line(s)))
    if s.cost_by_model:
        body.append(_table(t.models_table(s)))
    body.append("<h2>API requests</h2>")
    if s.api.source:
        body += [_p(t.source("api", s.api.source), "muted"), _table(t.api_table(s))]
    else:
        body.append(_p("No model requests were reported."))
    body.append("<h2>Tools</h2>")
    if s.tools:
        body += [_p(t.source("tools", s.tools_source), "muted"), _table(t.tools_table(s))]
        if s.tools_total > len(s.tools):
            body.append(_p(f"The {len(s.tools)} most used of {s.tools_total} tools.", "muted"))
    else:
        body.append(_p("No tool calls were reported."))
    body += ["<h2>Code changes</h2>", _table(t.code_table(s)), "<h2>Turns</h2>"]
    if s.turns:
        body.append(_table(t.turns_table(s)))
        if s.turns_total > len(s.turns):
            body.append(_p(f"The first {len(s.turns)} of {s.turns_total} turns.", "muted"))
        body += ["<h3>Slowest turns</h3>", _table(t.slowest_table(s))]
    else:
        body.append(_p("No prompts were reported."))
    prompts = t.prompts(s)
    if prompts:
        body.append("<h2>Prompts</h2>")
        for n, prompt in prompts:
            body += [f"<h3>Turn {n}</h3>", f"<blockquote>{_text(prompt)}</blockquote>"]
    elif note := t.prompts_note(s):
        body.append(_p(note, "muted"))
    body.append(f"<footer>Written by otelwatch {_text(__version__)}; times in UTC.</footer>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(t.title(s))}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
