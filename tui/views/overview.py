"""``1`` Overview: what the sessions cost and do, for all sessions or the chosen one.

Five panels read one :class:`~otelwatch.store.queries.overview.Overview`, loaded in a worker
when new data is committed. The burn rates move with the clock between loads (``tick``), from
the per-10-second costs of the last hour that came with the data, so time passing costs no query.
With an empty database the view says how to point Claude Code here instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.widget import Widget

from otelwatch.tui import format as fmt
from otelwatch.tui.view import DataView, Loader, Scope
from otelwatch.tui.views.overview_panels import (
    ActivityPanel,
    ApiPanel,
    CostPanel,
    ProblemsPanel,
    TokensPanel,
    ToolsPanel,
)
from otelwatch.tui.widgets.panel import Panel

if TYPE_CHECKING:
    from otelwatch.store.queries.overview import Overview
    from otelwatch.store.reader import Reader

# The graph's resolution; it is squeezed to the panel's width (each column the largest bucket).
# Fixed rather than the panel's width, which is not known before the first layout.
SPARK_BUCKETS = 120
# Below this many rows the graph is one row high and the panels pack tighter.
TALL_SCREEN_ROWS = 34


class EmptyState(Widget):
    """How to connect, shown instead of the panels while the database holds nothing."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "empty-state--title",
        "empty-state--code",
        "empty-state--hint",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connect_lines: tuple[str, ...] = ()
        self.read_only = False

    def render(self) -> RenderableType:
        style = self.get_component_rich_style
        text = Text()
        text.append("No telemetry yet.\n\n", style=style("empty-state--title"))
        if self.connect_lines:
            text.append(
                "Point Claude Code here: run these lines in the shell where you start claude\n"
                "(otelwatch env prints them too), then use Claude Code as usual.\n\n",
                style=style("empty-state--hint"),
            )
            for line in self.connect_lines:
                text.append(f"  {fmt.printable(line)}\n", style=style("empty-state--code"))
            text.append(
                "\nData shows here within a second of each export. To see the dashboard with "
                "generated data first: otelwatch demo",
                style=style("empty-state--hint"),
            )
        else:
            text.append(
                "This database is empty, and this otelwatch is not listening.\n"
                "Run otelwatch without --no-listen to receive telemetry, or otelwatch demo to "
                "see the dashboard with generated data.",
                style=style("empty-state--hint"),
            )
        return text


class OverviewView(DataView):
    """Cost, tokens, tools, API health and activity in one screen."""

    KEY = "1"
    TITLE = "Overview"
    TABLES = frozenset({"log_events", "metric_points", "spans"})
    HELP = (
        "Cost, tokens, tools, API health, activity and the latest problems of all sessions, "
        "or of the session chosen in Sessions (2). Cost and tokens come from api_request "
        "events, or from the claude_code.cost.usage and token.usage metrics for sessions "
        "without such events; "
        "never from both. Burn rates are dollars per hour over the last 5 and 60 minutes. "
        "Cache hit = cache read / (input + cache read + cache write). "
        "Tool durations and outcomes come from tool_result events, decisions from tool_decision; "
        "TTFT is time to first token. a: all sessions."
    )
    FOCUS = "#overview-body"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll('down')", "Down", show=False),
        Binding("k", "scroll('up')", "Up", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data: Overview | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="overview-body"):
            yield EmptyState(id="overview-empty")
            with Horizontal(id="overview-top"):
                yield CostPanel(id="cost-panel")
                yield TokensPanel(id="tokens-panel")
            with Horizontal(id="overview-bottom"):
                yield ToolsPanel(id="tools-panel")
                with Vertical(id="overview-side"):
                    yield ApiPanel(id="api-panel")
                    yield ActivityPanel(id="activity-panel")
                    yield ProblemsPanel(id="problems-panel")

    def on_mount(self) -> None:
        info = getattr(self.app, "info", None)
        empty = self.query_one(EmptyState)
        empty.connect_lines = tuple(getattr(info, "connect_lines", ()))
        empty.read_only = bool(getattr(info, "read_only", False))
        self.set_class(True, "-loading")

    def on_resize(self, event: Resize) -> None:
        rows = self.app.size.height
        self.set_class(rows < TALL_SCREEN_ROWS, "-short")
        self.query_one(CostPanel).spark_height = 4 if rows >= 40 else 3 if rows >= 34 else 1

    # ------------------------------------------------------------------ data

    def loader(self, scope: Scope) -> Loader:
        session, now = scope.session_id, scope.now_ns

        def load(source: Reader) -> Overview:
            return source.overview(session, now, spark_buckets=SPARK_BUCKETS)

        return load

    def show(self, data: Overview) -> None:
        self.data = data
        session = getattr(self.app, "session_id", None)
        # A Text, so a session id is never read as markup.
        self.query_one(CostPanel).border_title = fmt.literal(
            f"Cost · session {fmt.short_id(session)} (a: all)" if session else "Cost · all sessions"
        )
        self.set_class(False, "-loading")
        self.set_class(not data.has_data, "-empty")
        self.query_one(CostPanel).now_ns = data.now_ns
        for panel in self.query(Panel):
            panel.update_data(data)

    def tick(self, now_ns: int) -> None:
        if self.data is not None:
            self.query_one(CostPanel).set_now(now_ns)

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#overview-body", VerticalScroll)
        if direction == "down":
            body.scroll_down()
        else:
            body.scroll_up()
