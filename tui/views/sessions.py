"""``2`` Sessions: one row per session; Enter narrows every view to it.

The first row stands for all sessions (their totals): Enter on it, or ``a`` anywhere, goes back
to all. The chosen session is marked. "last seen" and live/idle follow the app's clock every
second without a query; the rows themselves are reloaded when new data is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from otelwatch.tui import format as fmt
from otelwatch.tui.filter_bar import FilterBar
from otelwatch.tui.messages import SessionChosen
from otelwatch.tui.view import FilteredView, Loader, Scope

if TYPE_CHECKING:
    from otelwatch.store.queries.sessions import SessionRow
    from otelwatch.store.reader import Reader

LIMIT = 200
# A session that sent nothing for this long is idle: Claude Code exports events within seconds
# of activity, and metrics at least every minute while something happens.
LIVE_WITHIN_NS = 120 * 1_000_000_000
ALL = "all"
COLUMNS = (
    "",
    "session",
    "started",
    "last seen",
    "state",
    "cost",
    "tokens",
    "prompts",
    "tools",
    "errors",
    "models",
)
_LAST_SEEN, _STATE = 3, 4


def is_live(last_ns: int, now_ns: int) -> bool:
    """Whether a session last seen at ``last_ns`` counts as live at ``now_ns``."""
    return now_ns - last_ns <= LIVE_WITHIN_NS


def started(ns: int, now_ns: int) -> str:
    """A start time: the clock for today's sessions, the date too for older ones."""
    if now_ns - ns < 20 * 3600 * 1_000_000_000:
        return fmt.clock(ns)
    return fmt.date_time(ns)[5:]


class SessionsView(FilteredView):
    """Every session: id, start, last seen, live or idle, cost, tokens, prompts, tools, errors,
    models."""

    KEY = "2"
    TITLE = "Sessions"
    TABLES = frozenset({"log_events", "metric_points", "spans"})
    HELP = (
        "Every session, most recently seen first. Enter shows the Overview of the session "
        "under the cursor, and every view (Traces, Events) is narrowed to it; Enter on the "
        "first row, or a anywhere, shows all sessions again. A session is live when it sent "
        "telemetry in the last 2 minutes. errors = failed API requests + failed tool calls. "
        "/ filters by session id, service or model. x writes the summary of the session under "
        "the cursor to a Markdown file in the current directory (otelwatch export also writes "
        "JSON and HTML)."
    )

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sessions--live",
        "sessions--idle",
        "sessions--bad",
        "sessions--chosen",
        "sessions--all",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "export", "Export"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: list[str] = []
        self._rows: list[SessionRow] = []
        self._chosen: str | None = None

    def compose(self) -> ComposeResult:
        yield FilterBar(placeholder="filter sessions: id, service or model")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        for index, label in enumerate(COLUMNS):
            table.add_column(label, key=str(index))
        yield table

    # ------------------------------------------------------------------ data

    def loader(self, scope: Scope) -> Loader:
        text = self._text
        chosen = scope.session_id

        def load(source: Reader) -> tuple[str | None, list[SessionRow]]:
            return chosen, source.sessions(text=text, limit=LIMIT)

        return load

    def show(self, data: tuple[str | None, list[SessionRow]]) -> None:
        chosen, rows = data
        now = self._now()
        table: DataTable[Text] = self.query_one(DataTable)
        row = table.cursor_row
        selected = self._keys[row] if 0 <= row < len(self._keys) else None
        table.clear()
        self._chosen, self._rows = chosen, rows
        self._keys = [ALL] + [r.session_id for r in rows]
        table.add_row(*self._all_cells(rows, now), key=ALL)
        for session in rows:
            table.add_row(*self._cells(session, now), key=session.session_id)
        # Stay on the row the user was on; else start on the chosen session.
        target = selected if selected in self._keys else (chosen or ALL)
        if target in self._keys:
            table.move_cursor(row=self._keys.index(target), animate=False)
        status = f"{len(rows)} newest" if len(rows) >= LIMIT else f"{len(rows)} sessions"
        if not rows:
            status = "no sessions" + (" match" if self._text else " yet")
        self.query_one(FilterBar).set_status(status)

    def tick(self, now_ns: int) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        for session in self._rows:
            if session.session_id not in table.rows:
                continue
            self._update(
                table, session.session_id, _LAST_SEEN, Text(fmt.age(session.last_ns, now_ns))
            )
            self._update(table, session.session_id, _STATE, self._state(session, now_ns))
        if self._rows:
            last = max(r.last_ns for r in self._rows)
            self._update(table, ALL, _LAST_SEEN, Text(fmt.age(last, now_ns)))
            self._update(table, ALL, _STATE, self._all_state(self._rows, now_ns))

    @staticmethod
    def _update(table: DataTable[Text], row: str, column: int, text: Text) -> None:
        # Every update_cell makes the table measure and redraw itself, and most ages do not
        # change from one second to the next ("3h ago"): rewriting them all kept an idle
        # dashboard at 5 % of a core on 200 sessions (bench/screen.py).
        shown = table.get_cell(row, str(column))
        if shown.plain != text.plain or shown.style != text.style:
            table.update_cell(row, str(column), text)

    def _style(self, name: str) -> Style:
        # Partial: the table's own background and zebra stripes show through.
        return self.get_component_rich_style(name, partial=True)

    def _now(self) -> int:
        clock = getattr(self.app, "clock", None)
        return int(clock()) if clock is not None else 0

    # ------------------------------------------------------------------ cells

    def _state(self, session: SessionRow, now_ns: int) -> Text:
        if is_live(session.last_ns, now_ns):
            return Text("● live", style=self._style("sessions--live"))
        return Text("idle", style=self._style("sessions--idle"))

    def _all_state(self, rows: list[SessionRow], now_ns: int) -> Text:
        live = sum(1 for r in rows if is_live(r.last_ns, now_ns))
        return Text(
            f"{live} live" if live else "idle",
            style=self._style("sessions--live" if live else "sessions--idle"),
        )

    def _mark(self, key: str | None) -> Text:
        chosen = key == self._chosen
        return Text("▶" if chosen else " ", style=self._style("sessions--chosen"))

    def _cells(self, session: SessionRow, now_ns: int) -> list[Text]:
        bad = self._style("sessions--bad")
        return [
            self._mark(session.session_id),
            fmt.literal(fmt.short_id(session.session_id)),
            Text(started(session.first_ns, now_ns)),
            Text(fmt.age(session.last_ns, now_ns)),
            self._state(session, now_ns),
            Text(fmt.money(session.cost_usd), justify="right"),
            Text(fmt.compact(session.tokens), justify="right"),
            Text(fmt.count(session.prompts), justify="right"),
            Text(fmt.count(session.tool_calls), justify="right"),
            Text(fmt.count(session.errors), justify="right", style=bad if session.errors else ""),
            fmt.literal(", ".join(session.models)),
        ]

    def _all_cells(self, rows: list[SessionRow], now_ns: int) -> list[Text]:
        style = self._style("sessions--all")
        mark = Text("▶" if self._chosen is None else " ")
        mark.stylize(self._style("sessions--chosen"))
        errors = sum(r.errors for r in rows)
        models = sorted({m for r in rows for m in r.models})
        return [
            mark,
            # The totals are of the rows listed: say so when the list is cut.
            Text("all" if len(rows) < LIMIT else f"{LIMIT} newest", style=style),
            Text(started(min(r.first_ns for r in rows), now_ns) if rows else "–"),
            Text(fmt.age(max(r.last_ns for r in rows), now_ns) if rows else "–"),
            self._all_state(rows, now_ns),
            Text(fmt.money(sum(r.cost_usd for r in rows)), justify="right", style=style),
            Text(fmt.compact(sum(r.tokens for r in rows)), justify="right", style=style),
            Text(fmt.count(sum(r.prompts for r in rows)), justify="right", style=style),
            Text(fmt.count(sum(r.tool_calls for r in rows)), justify="right", style=style),
            Text(
                fmt.count(errors),
                justify="right",
                style=self._style("sessions--bad") if errors else style,
            ),
            fmt.literal(", ".join(models)),
        ]

    # ------------------------------------------------------------------ actions

    def action_choose(self) -> None:
        table = self.query_one(DataTable)
        if not 0 <= table.cursor_row < len(self._keys):
            return
        key = self._keys[table.cursor_row]
        self.post_message(SessionChosen(None if key == ALL else key))
        show = getattr(self.app, "action_show_view", None)
        if show is not None:
            show("1")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter on a row: the table's own binding selects it, and selecting chooses it.
        event.stop()
        self.action_choose()

    def action_export(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        key = self._keys[row] if 0 <= row < len(self._keys) else ALL
        if key == ALL:
            self.notify(
                "Put the cursor on a session to export it.",
                title="Nothing exported",
                severity="warning",
            )
            return
        # A callable from the composition root: the UI neither renders nor writes summaries.
        export = getattr(getattr(self.app, "info", None), "export_session", None)
        if export is None:
            self.notify("Use otelwatch export.", title="Nothing exported", severity="warning")
            return
        self._export(export, key)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, export: Callable[[str], str], session_id: str) -> None:
        try:
            path = export(session_id)
        except Exception as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Export failed", severity="error", markup=False
            )
            return
        self.app.call_from_thread(
            self.notify, f"Wrote {path}", title="Session summary written", markup=False
        )
