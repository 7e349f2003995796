"""The otelwatch dashboard: numbered views over the store, refreshed by what gets committed.

Refresh is driven by data, not by a clock: the writer's commits reach the app as coalescing
:class:`~otelwatch.tui.feed.DataCommitted` messages; the views that read a changed table are
marked stale; the visible one is reloaded in a thread worker (at most every ``MIN_REFRESH_S``),
hidden ones when they are next shown. Nothing is queried when nothing changed, and the UI thread
never waits on a query.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Tab, Tabs
from textual.worker import Worker, WorkerState

from otelwatch.tui.feed import CommitFeed, DataCommitted
from otelwatch.tui.header import AppInfo, StatusHeader
from otelwatch.tui.messages import SessionChosen
from otelwatch.tui.view import DataView, Scope
from otelwatch.tui.views.events import EventsView
from otelwatch.tui.views.overview import OverviewView
from otelwatch.tui.views.sessions import SessionsView
from otelwatch.tui.views.traces import TracesView

if TYPE_CHECKING:
    from otelwatch.store.reader import Reader

# The fastest the visible view reloads under continuous ingest: fresh within a second of each
# export, without re-querying on every one of many commits a second.
MIN_REFRESH_S = 0.3


def default_views() -> list[DataView]:
    """The numbered views, in key order."""
    return [
        OverviewView(id="view-1"),
        SessionsView(id="view-2"),
        TracesView(id="view-3"),
        EventsView(id="view-4"),
    ]


class OtelwatchApp(App[None]):
    """The dashboard. ``source`` is the store's Reader; ``feed`` brings news of commits."""

    # Absolute: Textual resolves a relative CSS_PATH against the module of a subclass.
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "otelwatch"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "toggle_help", "Keys"),
        Binding("p", "toggle_live", "Pause"),
        Binding("a", "all_sessions", "All sessions"),
        Binding("q", "quit", "Quit"),
    ]

    session_id: reactive[str | None] = reactive(None)
    live: reactive[bool] = reactive(True)

    def __init__(
        self,
        source: Reader,
        info: AppInfo,
        *,
        feed: CommitFeed | None = None,
        clock: Callable[[], int] = time.time_ns,
        views: Sequence[DataView] | None = None,
        start_view: str | None = None,
        handle_sigterm: bool = False,
    ) -> None:
        super().__init__()
        self.source = source
        self.info = info
        self.feed = feed
        self.clock = clock
        self._views = {view.KEY: view for view in (views if views is not None else default_views())}
        self._start_view = start_view or next(iter(self._views))
        self._dirty: set[str] = set()
        self._refresh_pending = False
        self._last_refresh = 0.0
        self._loading: dict[str, Worker[Any]] = {}
        self._load_again: set[str] = set()
        self._load_started: dict[str, float] = {}
        self._load_seconds: dict[str, float] = {}
        self._handle_sigterm = handle_sigterm
        for key, view in self._views.items():
            self._bindings.bind(key, f"show_view('{key}')", view.TITLE, show=False)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.info, id="status-header")
        yield Tabs(
            *(Tab(f"{key} {view.TITLE}", id=f"tab-{key}") for key, view in self._views.items()),
            id="view-tabs",
        )
        with ContentSwitcher(id="views"):
            yield from self._views.values()
        yield Footer()

    def on_mount(self) -> None:
        if self.feed is not None:
            self.feed.connect(self.post_message)
        self.set_interval(1.0, self._tick)
        if self._handle_sigterm:
            # SIGTERM leaves like q does, so the caller drains the writer before exiting.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        self.action_show_view(self._start_view)
        for warning in self.info.warnings:
            self.notify(warning, severity="warning", timeout=20)

    @property
    def current_view(self) -> DataView:
        """The view on screen."""
        switcher = self.query_one(ContentSwitcher)
        for view in self._views.values():
            if view.id == switcher.current:
                return view
        return next(iter(self._views.values()))

    def view(self, key: str) -> DataView:
        """The view shown by ``key``."""
        return self._views[key]

    # ------------------------------------------------------------------ refresh

    def scope(self) -> Scope:
        """What every query is narrowed by, now."""
        return Scope(session_id=self.session_id, now_ns=self.clock())

    def on_data_committed(self, message: DataCommitted) -> None:
        if self.feed is not None:
            self._dirty |= self.feed.take()
        if self._refresh_pending:
            return
        self._refresh_pending = True
        # Leave the machine at least as long between loads as the last load of the view took:
        # on a large database the queries then use at most about half a core, and ingest keeps
        # the rest. Textual's timers divide by their delay, so never ask for zero.
        gap = max(MIN_REFRESH_S, 2 * self._load_seconds.get(self.current_view.KEY, 0.0))
        wait = max(0.01, self._last_refresh + gap - time.monotonic())
        self.set_timer(wait, self._refresh_dirty)

    def _refresh_dirty(self) -> None:
        self._refresh_pending = False
        dirty, self._dirty = self._dirty, set()
        for view in self._views.values():
            if view.TABLES & dirty:
                view.stale = True
        if self.live and self.current_view.stale:
            self.load_view(self.current_view, refresh=True)

    def load_view(self, view: DataView, *, refresh: bool = False) -> None:
        """Reload ``view`` in a worker thread; a newer load of it supersedes an older one.

        A ``refresh`` (new data was committed) while a load of the view runs only marks it to
        run again when that one ends: a thread cannot be stopped, so starting a query on every
        refresh would pile them up on a large database under continuous ingest. Other loads
        (filter, session, view shown) start at once and supersede the running one.
        """
        view.stale = False
        if refresh and view.KEY in self._loading:
            self._load_again.add(view.KEY)
            return
        self._load_again.discard(view.KEY)
        self._last_refresh = self._load_started[view.KEY] = time.monotonic()
        load = view.loader(self.scope())
        source = self.source
        self._loading[view.KEY] = self.run_worker(
            lambda: load(source),
            name=view.KEY,
            group=f"load-{view.KEY}",
            thread=True,
            # Not exclusive: cancelling cannot stop a thread, and the newest load is the one
            # shown (see on_worker_state_changed).
            exclusive=False,
            exit_on_error=False,
        )

    def reload_view(self, view: DataView) -> None:
        """Reload now, whatever is dirty (after a filter or sort change)."""
        self.load_view(view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if not worker.group.startswith("load-"):
            return
        view = self._views.get(worker.name)
        if view is None:
            return
        finished = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        # A load superseded by a newer one (filter, session) ends unseen: its data is stale.
        if event.state not in finished or self._loading.get(view.KEY) is not worker:
            return
        del self._loading[view.KEY]
        self._load_seconds[view.KEY] = time.monotonic() - self._load_started[view.KEY]
        if event.state == WorkerState.SUCCESS:
            with self.batch_update():
                view.show(worker.result)
        elif event.state == WorkerState.ERROR:
            view.stale = True
            self.notify(f"{view.TITLE}: {worker.error}", title="query failed", severity="error")
        if view.KEY in self._load_again:
            self._load_again.discard(view.KEY)
            if view is self.current_view:
                self.load_view(view, refresh=True)
            else:
                view.stale = True

    def _tick(self) -> None:
        headers = self.query(StatusHeader)
        if not headers:  # the timer can fire once more while the app shuts down
            return
        header = headers.first()
        if self.feed is not None:
            header.rate = self.feed.items_per_second()
        if self.info.storage_problem is not None:
            header.problem = self.info.storage_problem()
        self.current_view.tick(self.clock())

    # ------------------------------------------------------------------ navigation

    def action_show_view(self, key: str) -> None:
        view = self._views.get(key)
        if view is None:
            return
        self.query_one(ContentSwitcher).current = view.id
        tabs = self.query_one(Tabs)
        if tabs.active != f"tab-{key}":
            tabs.active = f"tab-{key}"
        if view.stale:
            self.load_view(view)
        view.focus_default()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        # The Tabs' own first activation can arrive while the app is shutting down, its
        # widgets gone: nothing to switch then.
        switcher = self.query(ContentSwitcher)
        # An activation queued before a newer one (the first tab's, while the start view was
        # being shown) is stale: obeying it would flip between two views for ever.
        if event.tab.id != event.tabs.active:
            return
        if event.tab.id and switcher:
            key = event.tab.id.removeprefix("tab-")
            if switcher.first().current != self._views[key].id:
                self.action_show_view(key)

    def on_session_chosen(self, message: SessionChosen) -> None:
        self.session_id = message.session_id

    def watch_session_id(self, session_id: str | None) -> None:
        self.query_one(StatusHeader).session = session_id
        for view in self._views.values():
            view.stale = True
        if self.is_running:
            self.load_view(self.current_view)

    def action_all_sessions(self) -> None:
        self.session_id = None

    def watch_live(self, live: bool) -> None:
        self.query_one(StatusHeader).live = live
        if live and self.current_view.stale:
            self.load_view(self.current_view)

    def action_toggle_live(self) -> None:
        self.live = not self.live

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for key, view in self._views.items():
            yield SystemCommand(
                f"Show {view.TITLE}",
                f"Switch to view {key}",
                lambda k=key: self.action_show_view(k),
            )
        yield SystemCommand(
            "Resume live updates" if not self.live else "Pause live updates",
            "Freeze the screen to read it, or follow new data again (p)",
            self.action_toggle_live,
        )
        yield SystemCommand(
            "Show all sessions", "Clear the session filter (a)", self.action_all_sessions
        )
        yield SystemCommand(
            "Show keys", "The keys of the focused view (?)", self.action_toggle_help
        )
        export = getattr(self.current_view, "action_export", None)
        if export is not None:
            yield SystemCommand(
                "Export the session summary",
                "Write the session under the cursor to a Markdown file (x)",
                export,
            )
        # A view may offer its own actions (``commands()``), as the Traces view does.
        view_commands = getattr(self.current_view, "commands", None)
        if view_commands is not None:
            yield from view_commands()
        yield from super().get_system_commands(screen)
