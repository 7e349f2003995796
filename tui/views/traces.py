"""``3`` Traces: one row per trace, newest first; Enter opens its waterfall.

The list follows new spans: a trace is listed as soon as any of its spans arrives (children are
often exported before their parent), marked ``⋯`` until its root span is there, and grows as
the rest arrives. While a trace is open, the view reloads that trace instead, as long as it is
incomplete (root missing, or spans whose parent has not arrived).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from otelwatch.tui import format as fmt
from otelwatch.tui.filter_bar import FilterBar
from otelwatch.tui.trace_explorer import TraceExplorer
from otelwatch.tui.trace_model import TraceModel, build_model, common_prefix
from otelwatch.tui.view import FilteredView, Loader, Scope

if TYPE_CHECKING:
    from otelwatch.store.queries.traces import TraceRow, TraceSort
    from otelwatch.store.reader import Reader

LIMIT = 500

# Sort keys: the column each one orders by, and the word the status line uses.
_SORTS: dict[str, tuple[str, str]] = {
    "start": ("start", "start"),
    "duration": ("took", "duration"),
    "cost": ("cost", "cost"),
    "errors": ("errors", "errors"),
}
# The prompt before the session: on a narrow terminal the session is the one scrolled off.
_COLUMNS = ("start", "took", "root span", "spans", "errors", "cost", "tokens", "prompt", "session")
_NUMBERS = (1, 3, 5, 6)
"""The columns of numbers (took, spans, cost, tokens)."""
_PROMPT = 7
# The prompt takes the width the other columns leave, but at least this much.
MIN_PROMPT = 16


@dataclass(frozen=True, slots=True)
class TracesData:
    """What one load brings: the list (unless a trace is open), the open trace (if reloaded)."""

    rows: list[TraceRow] | None
    trace_id: str | None
    model: TraceModel | None
    missing: bool
    """The open trace has no span stored (a wrong id, or deleted)."""


class TraceTable(DataTable[Text]):
    """The trace list; its component classes colour errors and traces still missing their root."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-table--error",
        "trace-table--missing-root",
        "trace-table--prompt",
        "trace-table--muted",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class TracesView(FilteredView):
    """The trace list and, after Enter, one trace's waterfall in its place."""

    KEY = "3"
    TITLE = "Traces"
    TABLES = frozenset({"spans", "log_events"})
    HELP = (
        "Every trace (one per prompt for Claude Code), newest first. Enter opens the waterfall. "
        "Sort with t (start), d (duration), c (cost), e (errors); again to reverse. "
        "⋯ marks a trace whose root span has not arrived yet."
    )
    FOCUS = "TraceTable"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "sort('start')", "By start"),
        Binding("d", "sort('duration')", "By duration"),
        Binding("c", "sort('cost')", "By cost"),
        Binding("e", "sort('errors')", "By errors"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sort: TraceSort = "start"
        self._descending = True
        self._ids: list[str] = []
        self._open: str | None = None
        self._model: TraceModel | None = None
        self._list_stale = False
        self._open_on_mount: str | None = None

    def compose(self) -> ComposeResult:
        # Not a ContentSwitcher: the app finds its own view switcher by type.
        with Vertical(id="trace-list"):
            yield FilterBar(
                placeholder="filter traces: id, session, span name, tool, model or prompt"
            )
            yield TraceTable(cursor_type="row", zebra_stripes=True)
        yield TraceExplorer(id="trace-explorer")

    def on_mount(self) -> None:
        self._set_columns()
        if self._open_on_mount is not None:
            self.open_trace(self._open_on_mount)
            self._open_on_mount = None

    # ------------------------------------------------------------------ data

    def loader(self, scope: Scope) -> Loader:
        session, text, sort, descending = scope.session_id, self._text, self._sort, self._descending
        open_id = self._open
        model = self._model
        # An open trace is read again only while it may still grow.
        refresh_trace = open_id is not None and (
            model is None
            or model.trace.trace_id != open_id
            or not model.has_root
            or model.orphans > 0
        )

        def load(source: Reader) -> TracesData:
            if open_id is not None:
                if not refresh_trace:
                    return TracesData(None, open_id, None, False)
                trace = source.trace(open_id)
                built = build_model(trace) if trace is not None else None
                return TracesData(None, open_id, built, trace is None)
            rows = source.traces(
                session_id=session, text=text, sort=sort, descending=descending, limit=LIMIT
            )
            return TracesData(rows, None, None, False)

        return load

    def show(self, data: TracesData) -> None:
        if data.rows is not None:
            self._show_rows(data.rows)
            self._list_stale = False
        else:
            self._list_stale = True
        if data.trace_id is not None and data.trace_id == self._open:
            explorer = self.query_one(TraceExplorer)
            if data.missing:
                self.notify(f"No trace {data.trace_id} is stored.", severity="warning")
                self.close_trace()
            elif data.model is not None:
                old = self._model
                same = old is not None and old.trace.trace_id == data.trace_id
                if old is None or not same or old.trace != data.model.trace:
                    self._model = data.model
                    explorer.show(data.model, same_trace=same)

    def _show_rows(self, rows: list[TraceRow]) -> None:
        table = self.query_one(TraceTable)
        # Stay on the trace the user moved to; at the top, follow the newest.
        selected = self._ids[table.cursor_row] if 0 < table.cursor_row < len(self._ids) else None
        table.clear()
        self._ids = [row.trace_id for row in rows]
        prefix = common_prefix([row.name for row in rows])
        lines = [self._cells(table, row, prefix) for row in rows]
        widths = [
            max([column.label.cell_len, *(line[i].cell_len for line in lines)])
            for i, column in enumerate(table.ordered_columns)
        ]
        # A table cell is drawn from the left: numbers are padded to line up on the right.
        for index in _NUMBERS:
            for line in lines:
                line[index].align("right", widths[index])
        # The prompt gets what the other columns leave (each has a cell of padding on both
        # sides, and the scroll bar takes two).
        others = sum(w + 2 for i, w in enumerate(widths) if i != _PROMPT)
        room = table.size.width - 2 - others - 2
        for row, line in zip(rows, lines, strict=True):
            if row.prompt:
                text = fmt.printable(fmt.one_line(row.prompt, max(MIN_PROMPT, room)))
                line[_PROMPT] = Text(text, style=line[_PROMPT].style)
        for row, line in zip(rows, lines, strict=True):
            table.add_row(*line, key=row.trace_id)
        if selected is not None and selected in self._ids:
            table.move_cursor(row=self._ids.index(selected), animate=False)
        self._update_status(rows)

    def _update_status(self, rows: list[TraceRow]) -> None:
        bar = self.query_one(FilterBar)
        if not rows:
            bar.set_status("no traces" + (" match" if self._text else " yet"))
            return
        plural = "s" if len(rows) != 1 else ""
        count = f"{len(rows)} newest traces" if len(rows) >= LIMIT else f"{len(rows)} trace{plural}"
        arrow = "▼" if self._descending else "▲"
        parts = [count, f"by {_SORTS[self._sort][1]} {arrow}"]
        rootless = sum(1 for r in rows if not r.has_root)
        if rootless:
            parts.append(f"⋯ {rootless} without root yet")
        bar.set_status("  ·  ".join(parts))

    @staticmethod
    def _cells(table: TraceTable, row: TraceRow, prefix: str) -> list[Text]:
        def style(name: str) -> Style:
            return table.get_component_rich_style(name, partial=True)

        name = fmt.printable(row.name[len(prefix) :] if prefix else row.name)
        if row.has_root:
            root = Text(name)
        else:
            root = Text("⋯ " + name, style=style("trace-table--missing-root"))
        # Cut to the room left once every row is known (see _show_rows).
        prompt = Text("", style=style("trace-table--prompt"))
        errors = (
            Text(str(row.errors), style=style("trace-table--error"))
            if row.errors
            else Text("·", style=style("trace-table--muted"))
        )
        return [
            Text(fmt.clock(row.start_ns)),
            Text(fmt.duration_ns(row.duration_ns)),
            root,
            Text(fmt.count(row.spans)),
            errors,
            Text(fmt.money(row.cost_usd) if row.cost_usd is not None else ""),
            Text(fmt.compact(row.tokens) if row.tokens is not None else ""),
            prompt,
            Text(fmt.printable(fmt.short_id(row.session_id))),
        ]

    def _set_columns(self) -> None:
        table = self.query_one(TraceTable)
        table.clear(columns=True)
        sorted_by = _SORTS[self._sort][0]
        arrow = " ▼" if self._descending else " ▲"
        for label in _COLUMNS:
            table.add_column(label + (arrow if label == sorted_by else ""), key=label)

    # ------------------------------------------------------------------ opening a trace

    def start_with_trace(self, trace_id: str) -> None:
        """Open ``trace_id`` as soon as the view is mounted (``otelwatch trace``)."""
        if self.is_mounted:
            self.open_trace(trace_id)
        else:
            self._open_on_mount = trace_id

    def open_trace(self, trace_id: str) -> None:
        """Show the waterfall of ``trace_id`` (a full id)."""
        explorer = self.query_one(TraceExplorer)
        if self._open != trace_id:
            explorer.show(None, same_trace=False)
        self._open = trace_id
        if self._model is not None and self._model.trace.trace_id != trace_id:
            self._model = None
        # Display set on the two widgets, not a class on the view: restyling the whole view
        # would cost more than drawing the waterfall.
        self.query_one("#trace-list").display = False
        explorer.display = True
        explorer.waterfall.focus()
        self.reload()

    def close_trace(self) -> None:
        """Back to the list."""
        self._open = None
        self.query_one(TraceExplorer).display = False
        self.query_one("#trace-list").display = True
        self.query_one(TraceTable).focus()
        if self._list_stale:
            self.reload()

    @property
    def open_trace_id(self) -> str | None:
        """The trace whose waterfall is shown, if any."""
        return self._open

    def focus_default(self) -> None:
        if self._open is not None:
            self.query_one(TraceExplorer).waterfall.focus()
        else:
            super().focus_default()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self._ids):
            self.open_trace(self._ids[event.cursor_row])

    def on_trace_explorer_closed(self, message: TraceExplorer.Closed) -> None:
        message.stop()
        self.close_trace()

    # ------------------------------------------------------------------ command palette

    def commands(self) -> Iterable[SystemCommand]:
        """This view's actions for the command palette (what the keys do, by name)."""
        if self._open is None:
            for sort, (column, word) in _SORTS.items():
                yield SystemCommand(
                    f"Sort traces by {word}",
                    f"Order the list by its {column} column; again to reverse",
                    lambda s=sort: self.action_sort(s),
                )
            yield SystemCommand(
                "Filter traces", "Id, session, span, tool, model or prompt (/)", self.action_filter
            )
            return
        explorer = self.query_one(TraceExplorer)
        waterfall = explorer.waterfall
        yield SystemCommand(
            "Search spans",
            "Names, attributes and span events (/, then n/N)",
            explorer.action_search,
        )
        yield SystemCommand(
            "Hide the critical path" if waterfall.show_critical else "Show the critical path",
            "What the end of the trace waited for (c)",
            waterfall.action_toggle_critical,
        )
        yield SystemCommand(
            "Next failed span",
            "Move to the next span with status error (e)",
            waterfall.action_next_error,
        )
        yield SystemCommand(
            "Span detail",
            "Every attribute, event and log event of the span (Enter)",
            waterfall.action_select,
        )
        yield SystemCommand("Back to the trace list", "Leave this trace (Esc)", self.close_trace)

    # ------------------------------------------------------------------ list actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The list's keys do nothing while a trace is open (its own keys take over).
        return self._open is None or action not in ("filter", "clear_filter", "sort")

    def action_sort(self, key: str) -> None:
        if key not in _SORTS:
            return
        if key == self._sort:
            self._descending = not self._descending
        else:
            self._sort, self._descending = key, True  # type: ignore[assignment]
        self._set_columns()
        self.reload()
