"""The span detail pane: everything about the span under the waterfall's cursor.

Name, kind, status, when it started (from the trace's start) and how long it took; every
attribute (long values folded, Enter shows them whole); its span events, links and resource; and
the log events tied to it: emitted in it (for the root, the whole turn's), or naming its tool call
(``tool_use_id``) or its model request (``request_id``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label

from otelwatch.tui import format as fmt
from otelwatch.tui.text_screen import TextScreen

if TYPE_CHECKING:
    from otelwatch.store.queries.traces import SpanDetail, TraceLogEvent

# Values longer than the room the pane leaves them (and never more than this) are folded;
# Enter on the row shows them whole.
FOLD_AT = 160

# The fields of a log event worth a glance in its one-line summary.
_EVENT_FIELDS = (
    "tool_name",
    "model",
    "cost_usd",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "success",
    "decision",
    "source",
    "error",
    "status_code",
    "prompt_length",
)


def value_text(value: Any) -> str:
    """An attribute value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def detail_rows(detail: SpanDetail, trace_start_ns: int, trace_ns: int) -> list[tuple[str, str]]:
    """The pane's rows: (field, full value); a field starting with ``#`` is a section title."""
    took = max(0, detail.end_ns - detail.start_ns)
    share = f"  ({fmt.percent(took / trace_ns)} of the trace)" if trace_ns > 0 else ""
    status = detail.status_code + (f": {detail.status_message}" if detail.status_message else "")
    rows: list[tuple[str, str]] = [
        ("name", detail.name),
        ("kind", detail.kind),
        ("status", status),
        (
            "start",
            f"+{fmt.duration_ns(detail.start_ns - trace_start_ns)}  ({fmt.clock(detail.start_ns)})",
        ),
        ("duration", fmt.duration_ns(took) + share),
        ("span id", detail.span_id),
        ("parent", detail.parent_span_id or "(none: a root span)"),
        ("trace id", detail.trace_id),
        (
            "service / scope",
            f"{detail.service_name or '–'} / {detail.scope_name or '–'}"
            + (f" {detail.scope_version}" if detail.scope_version else ""),
        ),
    ]
    if detail.trace_state:
        rows.append(("trace state", detail.trace_state))
    rows.append((f"# attributes ({len(detail.attributes)})", ""))
    rows += [(key, value_text(value)) for key, value in sorted(detail.attributes.items())]
    if detail.events:
        rows.append((f"# span events ({len(detail.events)})", ""))
        for event in detail.events:
            attrs = ", ".join(f"{k}={value_text(v)}" for k, v in sorted(event.attributes.items()))
            rows.append(
                (
                    f"+{fmt.duration_ns(event.time_ns - trace_start_ns)}",
                    f"{event.name}  {attrs}".rstrip(),
                )
            )
    if detail.links:
        rows.append((f"# links ({len(detail.links)})", ""))
        for link in detail.links:
            attrs = ", ".join(f"{k}={value_text(v)}" for k, v in sorted(link.attributes.items()))
            rows.append(
                (f"trace {fmt.short_id(link.trace_id)}", f"span {link.span_id}  {attrs}".rstrip())
            )
    rows.append((f"# log events ({len(detail.log_events)})", ""))
    rows += [_log_event_row(event, trace_start_ns) for event in detail.log_events]
    if detail.resource:
        rows.append((f"# resource ({len(detail.resource)})", ""))
        rows += [(key, value_text(value)) for key, value in sorted(detail.resource.items())]
    return rows


def _log_event_row(event: TraceLogEvent, trace_start_ns: int) -> tuple[str, str]:
    attrs = event.attributes
    summary = "  ".join(f"{key}={value_text(attrs[key])}" for key in _EVENT_FIELDS if key in attrs)
    name = event.event_name or "log record"
    when = f"+{fmt.duration_ns(event.time_ns - trace_start_ns)}"
    # The whole event is kept for Enter; the summary is what the row shows folded.
    return (f"{when} {name}", f"{summary}\n{json.dumps(attrs, ensure_ascii=False, sort_keys=True)}")


class SpanDetailPane(Vertical):
    """A table of one span's fields; Enter on a folded value shows it whole."""

    HELP = """
The span under the waterfall's cursor: its fields, every attribute, its span events, links and
resource, and the log events tied to it (emitted in it, or naming its tool call or model
request). A value ending in … is folded: **Enter** shows it whole. **Esc** goes back to the
spans.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back to spans"),
    ]

    class Left(Message):
        """The user left the pane (Esc): the waterfall takes the keys again."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._values: list[str] = []
        self._keys: list[str] = []
        self._fold = FOLD_AT
        self.span_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Label("", id="span-detail-title")
        table: DataTable[Text] = DataTable(
            cursor_type="row", zebra_stripes=True, id="span-detail-table"
        )
        table.add_columns("field", "value")
        yield table

    def show(self, detail: SpanDetail | None, trace_start_ns: int, trace_ns: int) -> None:
        """Fill the pane with ``detail`` (``None``: the span is gone)."""
        title = self.query_one("#span-detail-title", Label)
        table = self.query_one(DataTable)
        table.clear()
        self._values, self._keys = [], []
        if detail is None:
            self.span_id = None
            title.update("This span is no longer stored.")
            return
        self.span_id = detail.span_id
        title.update(fmt.literal(f"{detail.name}  ·  span {detail.span_id}"))
        rows = detail_rows(detail, trace_start_ns, trace_ns)
        # Each of the two columns has a cell of padding on both sides; the scroll bar takes 2,
        # and two more spare cells keep the horizontal scroll bar away.
        keys = max((len(k) for k, _ in rows), default=10)
        fold = max(20, min(FOLD_AT, self.size.width - keys - 8))
        self._fold = fold
        for key, value in rows:
            if key.startswith("# "):
                table.add_row(Text(key[2:], style="bold"), Text(""))
            else:
                shown = value.split("\n", 1)[0] if "\n" in value else value
                folded = len(value) > fold or "\n" in value
                if len(shown) > fold:
                    shown = shown[: fold - 1] + "…"
                elif folded:
                    shown += " …"
                table.add_row(fmt.literal(key), fmt.literal(shown))
            self._keys.append(key)
            self._values.append(value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a row: the table's own binding selects it, and selecting unfolds it.
        event.stop()
        self.action_unfold()

    def action_unfold(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        if 0 <= row < len(self._values):
            value = self._values[row]
            if len(value) > self._fold or "\n" in value:
                full = value.split("\n", 1)[1] if "\n" in value else value
                self.app.push_screen(TextScreen(self._keys[row], full))

    def action_leave(self) -> None:
        self.post_message(self.Left())
