"""``4`` Events: the event stream, newest first, following live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from otelwatch.tui import format as fmt
from otelwatch.tui.event_detail import EventDetailScreen
from otelwatch.tui.filter_bar import FilterBar
from otelwatch.tui.view import FilteredView, Loader, Scope

if TYPE_CHECKING:
    from otelwatch.store.queries.events import EventRow
    from otelwatch.store.reader import Reader

LIMIT = 500


class EventsView(FilteredView):
    """One line per event: time, session, event, tool or model, duration, cost, outcome."""

    KEY = "4"
    TITLE = "Events"
    TABLES = frozenset({"log_events"})
    HELP = "The event stream, newest first. It follows new events unless paused."

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: list[int] = []

    def compose(self) -> ComposeResult:
        yield FilterBar(placeholder="filter events: name, tool, model, session or any attribute")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns("time", "session", "event", "tool / model", "took", "cost", "ok", "")
        yield table

    # ------------------------------------------------------------------ data

    def loader(self, scope: Scope) -> Loader:
        session, text = scope.session_id, self._text

        def load(source: Reader) -> list[EventRow]:
            return source.events(session_id=session, text=text, limit=LIMIT)

        return load

    def show(self, data: list[EventRow]) -> None:
        table = self.query_one(DataTable)
        selected = self._keys[table.cursor_row] if 0 < table.cursor_row < len(self._keys) else None
        table.clear()
        self._keys = [row.key for row in data]
        for row in data:
            table.add_row(*self._cells(row), key=str(row.key))
        # Stay on the event the user moved to; otherwise follow the newest at the top.
        if selected is not None and selected in self._keys:
            table.move_cursor(row=self._keys.index(selected), animate=False)
        if not data:
            self.query_one(FilterBar).set_status("no events" + (" match" if self._text else " yet"))
        else:
            self.query_one(FilterBar).set_status(
                f"{len(data)} newest" if len(data) >= LIMIT else f"{len(data)} events"
            )

    @staticmethod
    def _cells(row: EventRow) -> list[Text]:
        outcome = Text("")
        if row.success is not None:
            outcome = Text("✓" if row.success else "✗", style="" if row.success else "bold")
        elif row.decision:
            outcome = fmt.literal(row.decision)
        elif row.event_name in ("api_error", "api_retries_exhausted"):
            outcome = Text("✗", style="bold")
        return [
            Text(fmt.clock(row.time_ns)),
            fmt.literal(fmt.short_id(row.session_id)),
            fmt.literal(row.event_name or ""),
            fmt.literal(row.tool_name or row.model or ""),
            Text(fmt.duration_ms(row.duration_ms) if row.duration_ms is not None else ""),
            Text(fmt.money(row.cost_usd) if row.cost_usd is not None else ""),
            outcome,
            fmt.literal(fmt.one_line(row.detail, 60)),
        ]

    # ------------------------------------------------------------------ actions

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if 0 <= table.cursor_row < len(self._keys):
            self.app.push_screen(EventDetailScreen(self._keys[table.cursor_row]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a row: the table's own binding selects it, and selecting opens it.
        event.stop()
        self.action_open()
