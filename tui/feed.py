"""The bridge from the writer thread to the app: which tables changed, and how fast data arrives."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from textual.message import Message


class DataCommitted(Message):
    """New data is on disk. Carries nothing: the app asks the feed what changed.

    Several of these waiting in the queue are one: each replaces the one before it, and the feed
    keeps the union of the changed tables, so a burst of commits costs one refresh.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataCommitted)


class CommitFeed:
    """Collects commits from the writer thread for the UI thread.

    ``notify`` is called on the writer thread after each commit; it records what changed and calls
    ``post`` (the app's thread-safe ``post_message``) with a :class:`DataCommitted`. The UI thread
    takes the changed tables with :meth:`take`.
    """

    RATE_WINDOW_S = 5.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._dirty: set[str] = set()
        self._recent: deque[tuple[float, int]] = deque()
        self._post: Callable[[Message], object] | None = None

    def connect(self, post: Callable[[Message], object]) -> None:
        """Start posting to ``post`` (the app, once it is running)."""
        with self._lock:
            self._post = post
            pending = bool(self._dirty)
        if pending:
            post(DataCommitted())

    def notify(self, tables: Iterable[str], items: int) -> None:
        """Record one commit (called from the writer thread)."""
        now = self._clock()
        with self._lock:
            self._dirty.update(tables)
            self._recent.append((now, items))
            self._trim(now)
            post = self._post
        if post is not None:
            post(DataCommitted())

    def take(self) -> frozenset[str]:
        """The tables changed since the last call."""
        with self._lock:
            dirty = frozenset(self._dirty)
            self._dirty.clear()
        return dirty

    def items_per_second(self) -> float:
        """Items committed per second over the last few seconds."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            total = sum(items for _, items in self._recent)
        return total / self.RATE_WINDOW_S

    def _trim(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > self.RATE_WINDOW_S:
            self._recent.popleft()
