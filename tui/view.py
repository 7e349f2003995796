"""The contract of a main view: what it reads, how it loads off the UI thread, how it shows.

A view never queries on the UI thread. When the app decides a view must refresh (data it depends
on was committed, the session filter changed, the view was shown after going stale), it asks the
view for a *loader*: a function of the Reader that captures, as immutable values, everything the
query needs (filter text, sort order, session). The app runs the loader in a thread worker and
hands the result to :meth:`DataView.show` on the UI thread, inside ``batch_update``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget

from otelwatch.tui.filter_bar import FilterBar

if TYPE_CHECKING:
    from otelwatch.store.reader import Reader


@dataclass(frozen=True, slots=True)
class Scope:
    """What every view's query is narrowed by."""

    session_id: str | None
    now_ns: int


Loader = Callable[["Reader"], Any]


class DataView(Widget):
    """Base of the numbered views (Overview, Sessions, Traces, Events, …).

    Subclasses set ``KEY`` (the number that shows them), ``TITLE``, and ``TABLES`` (the tables
    whose commits make them stale), and implement :meth:`loader` and :meth:`show`.
    """

    KEY: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    TABLES: ClassVar[frozenset[str]] = frozenset()
    HELP: ClassVar[str] = ""
    FOCUS: ClassVar[str] = "DataTable"
    """Selector of the widget that takes the keys when the view is shown."""

    stale: bool = True

    def loader(self, scope: Scope) -> Loader:
        """A function, run in a worker thread, that reads what :meth:`show` needs."""
        raise NotImplementedError

    def show(self, data: Any) -> None:
        """Display the loader's result (on the UI thread)."""
        raise NotImplementedError

    def tick(self, now_ns: int) -> None:
        """Called every second while visible, to re-render relative times without a query."""

    def focus_default(self) -> None:
        """Give the keyboard to the view's main widget."""
        targets = self.query(self.FOCUS)
        if targets:
            targets.first().focus()

    def reload(self) -> None:
        """Ask the app to load this view again now (after a filter or sort change)."""
        reload = getattr(self.app, "reload_view", None)
        if reload is not None:
            reload(self)


class FilteredView(DataView):
    """A view with the `/` text filter: ``_text`` narrows what :meth:`loader` reads.

    `/` opens the :class:`FilterBar` with the current text, each change reloads, and `Esc`
    clears it; closing the bar gives the keys back to the view's main widget.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text = ""

    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self._text)

    def action_clear_filter(self) -> None:
        if self._text:
            self._text = ""
            self.query_one(FilterBar).close()
            self.reload()

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        message.stop()
        self._text = message.text
        self.reload()

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        message.stop()
        self.focus_default()
