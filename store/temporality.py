"""Turning every sum into increases, so totals are right for DELTA and CUMULATIVE senders alike.

Claude Code exports DELTA sums by default: each point is already the increment. Most other
senders (and Claude Code with ``..._TEMPORALITY_PREFERENCE=cumulative``) export CUMULATIVE sums:
each point is a running total of its series since ``start_time``. Storing the increase of every
point at ingest lets every query total with ``SUM(increase)``, whatever the temporality.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeriesState:
    """The last point seen of one cumulative series."""

    start_ns: int
    time_ns: int
    value: float


def cumulative_increase(
    previous: SeriesState | None, start_ns: int, time_ns: int, value: float, monotonic: bool
) -> tuple[float, SeriesState | None]:
    """The increase a cumulative point adds, and the series state after it.

    A point starts a new run when its series is unknown, when its ``start_ns`` differs from the
    previous point's (the sender restarted), or, for monotonic sums, when its value dropped (a
    reset without a new start time). The first point of a run adds its whole value: it is the total
    since ``start_ns``. A point not newer than the last one seen (a retry, or late arrival) adds
    nothing and leaves the state alone; the returned state is ``None`` then.
    """
    if previous is None or previous.start_ns != start_ns:
        return value, SeriesState(start_ns, time_ns, value)
    if time_ns <= previous.time_ns:
        return 0.0, None
    if monotonic and value < previous.value:
        return value, SeriesState(start_ns, time_ns, value)
    return value - previous.value, SeriesState(start_ns, time_ns, value)


Lookup = Callable[[list[str]], dict[str, SeriesState]]


class CumulativeTracker:
    """Remembers the last point of each cumulative series, falling back to the database.

    ``lookup`` is asked, once per batch, for the series this tracker has not seen since it was
    created (after a restart, or after the series was evicted). Memory is bounded by
    ``capacity``; an evicted series costs one more lookup when it comes back.
    """

    def __init__(self, lookup: Lookup, capacity: int = 100_000) -> None:
        self._lookup = lookup
        self._capacity = capacity
        self._states: dict[str, SeriesState] = {}

    def prefetch(self, series_keys: Iterable[str]) -> None:
        """Load from the database the states of series not in memory."""
        missing = sorted({k for k in series_keys if k not in self._states})
        if missing:
            self._states.update(self._lookup(missing))

    def get(self, series_key: str) -> SeriesState | None:
        """The last known state of a series, if any."""
        return self._states.get(series_key)

    def update(self, changes: dict[str, SeriesState]) -> None:
        """Remember the states reached by a committed batch."""
        if len(self._states) + len(changes) > self._capacity:
            self._states.clear()
        self._states.update(changes)
