"""One trace explored: its summary, its waterfall, search, and the span detail pane.

Shown by the Traces view in place of its list (so the header, the view tabs and the footer stay);
``Esc`` goes back. Queries (search, span detail) run in thread workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.worker import get_current_worker

from otelwatch.tui.filter_bar import FilterBar
from otelwatch.tui.span_detail import SpanDetailPane
from otelwatch.tui.trace_model import TraceModel
from otelwatch.tui.trace_summary import TraceSummary
from otelwatch.tui.waterfall import Waterfall

if TYPE_CHECKING:
    from otelwatch.store.queries.traces import SpanDetail
    from otelwatch.store.reader import Reader

# Moving the cursor fast through the waterfall should not query every span it passes.
DETAIL_DEBOUNCE_S = 0.12


class TraceExplorer(Vertical):
    """Summary, search line, waterfall and (after Enter) the selected span's detail."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search"),
        Binding("escape", "back", "Back"),
    ]

    class Closed(Message):
        """The user left the trace (Esc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model: TraceModel | None = None
        self._search = ""
        self._detail_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield TraceSummary(id="trace-summary")
        yield Waterfall(id="waterfall")
        yield SpanDetailPane(id="span-detail")
        yield FilterBar(
            placeholder="search span names, attributes and events (Enter: keep, n/N: next)",
            id="trace-search",
        )

    @property
    def waterfall(self) -> Waterfall:
        """The waterfall widget."""
        return self.query_one(Waterfall)

    @property
    def detail_open(self) -> bool:
        """Whether the span detail pane is shown."""
        return self.query_one(SpanDetailPane).has_class("-open")

    def show(self, model: TraceModel | None, *, same_trace: bool) -> None:
        """Show ``model``; ``same_trace``: it is the open trace, grown, so keep the places."""
        changed = not same_trace or self.model is None
        self.model = model
        self.query_one(TraceSummary).show(model)
        self.waterfall.load(model, keep_state=same_trace)
        if changed:
            self._search = ""
            self.query_one(FilterBar).close()
            self.query_one(FilterBar).set_status("")
            self._close_detail()
        elif self._search:
            self._run_search(self._search)
        elif self.detail_open:
            self._load_detail()
        self._update_status()

    # ------------------------------------------------------------------ search

    def action_search(self) -> None:
        self.query_one(FilterBar).open(self._search)

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        message.stop()
        self._search = message.text
        if message.text:
            self._run_search(message.text)
        else:
            self.waterfall.set_matches([])
            self._update_status()

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        message.stop()
        self.waterfall.focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="trace-search")
    def _run_search(self, text: str) -> None:
        model = self.model
        if model is None:
            return
        source: Reader = self.app.source  # type: ignore[attr-defined]
        found = source.trace_search(model.trace.trace_id, text)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._searched, model, text, found)

    def _searched(self, model: TraceModel, text: str, found: list[str]) -> None:
        if model is not self.model or text != self._search:
            return
        self.waterfall.set_matches(found)
        self._update_status()

    def on_waterfall_changed(self, message: Waterfall.Changed) -> None:
        message.stop()
        self._update_status()

    def _update_status(self) -> None:
        waterfall = self.waterfall
        parts = []
        if self._search:
            if not waterfall.matches:
                parts.append("no span matches")
            elif (number := waterfall.match_number) is not None:
                parts.append(f"match {number} of {waterfall.matches} (n/N)")
            else:
                plural = "es" if waterfall.matches != 1 else ""
                parts.append(f"{waterfall.matches} match{plural} (n/N)")
        if waterfall.show_critical:
            parts.append("critical path shown (c)")
        self.query_one(FilterBar).set_status("  ·  ".join(parts))

    # ------------------------------------------------------------------ span detail

    def on_waterfall_span_selected(self, message: Waterfall.SpanSelected) -> None:
        message.stop()
        pane = self.query_one(SpanDetailPane)
        if self.detail_open and pane.span_id == message.span_id:
            self._close_detail()
        else:
            pane.add_class("-open")
            self._load_detail()

    def on_waterfall_span_highlighted(self, message: Waterfall.SpanHighlighted) -> None:
        message.stop()
        if not self.detail_open:
            return
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE_S, self._load_detail)

    def on_span_detail_pane_left(self, message: SpanDetailPane.Left) -> None:
        message.stop()
        self.waterfall.focus()

    def _close_detail(self) -> None:
        pane = self.query_one(SpanDetailPane)
        pane.remove_class("-open")
        pane.span_id = None
        if pane.has_focus_within:
            self.waterfall.focus()

    def _load_detail(self) -> None:
        model, span_id = self.model, self.waterfall.span_id
        if model is not None and span_id is not None:
            self._fetch_detail(model, span_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="span-detail")
    def _fetch_detail(self, model: TraceModel, span_id: str) -> None:
        source: Reader = self.app.source  # type: ignore[attr-defined]
        detail = source.span_detail(model.trace.trace_id, span_id)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_detail, model, detail)

    def _show_detail(self, model: TraceModel, detail: SpanDetail | None) -> None:
        if model is not self.model or not self.detail_open:
            return
        tree = model.tree
        self.query_one(SpanDetailPane).show(detail, tree.start_ns, tree.duration_ns)

    # ------------------------------------------------------------------ leaving

    def action_back(self) -> None:
        if self.detail_open:
            self._close_detail()
        else:
            self.post_message(self.Closed())
