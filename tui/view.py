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

from textual.widget import Widget

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
