"""Retention: a cap on the age and on the size of the stored data, enforced while running.

The writer thread (the only writer) calls :meth:`Retention.step` between commits. Each step deletes
one small batch (a few thousand rows) in its own transaction, so exports waiting to be committed
are never held up for long; steps repeat until nothing is over the limits, then the next check is
a minute away.

Age is measured from ``received_ns``, the time otelwatch received an item, not the time the sender
wrote in it: a sender with a wrong clock (or a zero timestamp) cannot get its data deleted at once
or kept forever. Spans go a whole trace at a time: a trace is deleted only when its most recently
received span is over the limit, so the waterfall never shows half a trace. Events and metric
points go row by row, oldest first.

Size is the space the rows occupy in the file (DuckDB's used blocks) plus the write-ahead log.
When it is over the cap, the oldest rows are deleted until about 80% of the cap is left, then a
checkpoint hands the freed blocks back for reuse. DuckDB does not shrink its file, so the file
grows to about the cap and then stays there. DuckDB frees space a row group (about 120,000 rows)
at a time: if a size prune could not bring a small database under its cap, size pruning waits
until the data has grown by a tenth, rather than deleting everything in search of space it
cannot free.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from otelwatch.store import rollups

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 10**9
# A month of sessions: cost questions are usually about a billing month.
DEFAULT_MAX_AGE_NS = 30 * NS_PER_DAY
# Far above what one developer's month takes (tens to hundreds of MB, see docs/limits.md), small
# enough to go unnoticed on a laptop disk.
DEFAULT_MAX_BYTES = 2 * 1000**3
# After a size prune this share of the cap is left, so pruning does not start again at once.
SIZE_TARGET = 0.8


def _format_bytes(value: int) -> str:
    for unit, scale in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value} B"


def _format_age(ns: int) -> str:
    seconds = ns / 10**9
    for unit, scale in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= scale and seconds % scale == 0:
            return f"{int(seconds // scale)} {unit}"
    return f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long, and how much, to keep. ``None`` means no limit of that kind."""

    max_age_ns: int | None = DEFAULT_MAX_AGE_NS
    max_bytes: int | None = DEFAULT_MAX_BYTES

    @property
    def enabled(self) -> bool:
        """Whether anything is ever deleted."""
        return self.max_age_ns is not None or self.max_bytes is not None

    def describe(self) -> str:
        """For the header: ``30 d · 2 GB``, ``7 d``, ``2 GB`` or ``forever``."""
        parts = []
        if self.max_age_ns is not None:
            parts.append(_format_age(self.max_age_ns))
        if self.max_bytes is not None:
            parts.append(_format_bytes(self.max_bytes))
        return " · ".join(parts) if parts else "forever"


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one step (or a whole pass) deleted."""

    spans: int = 0
    log_events: int = 0
    metric_points: int = 0

    @property
    def items(self) -> int:
        """Rows deleted in all three tables."""
        return self.spans + self.log_events + self.metric_points

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            self.spans + other.spans,
            self.log_events + other.log_events,
            self.metric_points + other.metric_points,
        )


def used_bytes(conn: duckdb.DuckDBPyConnection, path: str | None) -> int:
    """Bytes the data occupies: DuckDB's used blocks, plus the write-ahead log if any."""
    rows = conn.execute("SELECT used_blocks, block_size FROM pragma_database_size()").fetchall()
    used = int(rows[0][0]) * int(rows[0][1]) if rows else 0
    if path is not None:
        with contextlib.suppress(OSError):  # no write-ahead log right after a checkpoint
            used += os.path.getsize(path + ".wal")
    return used


_OLD_TRACES = """
DELETE FROM spans WHERE trace_id IN (
    SELECT trace_id FROM spans
    WHERE trace_id IN (SELECT trace_id FROM spans WHERE received_ns < $cutoff)
    GROUP BY trace_id
    HAVING max(received_ns) < $cutoff
    LIMIT $traces
)
RETURNING session_id
"""
_OLD_ROWS = """
DELETE FROM {table} WHERE rowid IN (
    SELECT rowid FROM {table} WHERE received_ns < $cutoff LIMIT $rows
)
RETURNING session_id
"""
_QUANTILE = """
SELECT quantile_disc(received_ns, $fraction) FROM (
    SELECT received_ns FROM spans
    UNION ALL SELECT received_ns FROM log_events
    UNION ALL SELECT received_ns FROM metric_points
)
"""


class Retention:
    """Enforces a :class:`RetentionPolicy` in small steps. Used only on the writer thread.

    ``clock`` gives the wall time that ages are measured against and ``monotonic`` paces the
    checks; both are injectable so tests can move time by days without waiting.
    """

    def __init__(
        self,
        policy: RetentionPolicy,
        *,
        path: str | None,
        clock: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        check_every_s: float = 60.0,
        pause_s: float = 0.05,
        batch_rows: int = 5_000,
        batch_traces: int = 500,
    ) -> None:
        self.policy = policy
        self._path = path
        self._clock = clock
        self._monotonic = monotonic
        self._check_every = check_every_s
        self._pause = pause_s
        self._batch_rows = batch_rows
        self._batch_traces = batch_traces
        # The first check comes soon after start: a database left alone for weeks is due at once.
        self._due = monotonic() + min(5.0, check_every_s)
        self._size_cutoff: int | None = None
        self._pass_deleted = 0
        # Set when a size prune could not get under the cap: the size it reached.
        self._size_floor: int | None = None
        self.total = Pruned()

    def seconds_until_due(self) -> float | None:
        """How long until :meth:`step` has work to check; ``None`` when never."""
        if not self.policy.enabled:
            return None
        return max(0.0, self._due - self._monotonic())

    def step(self, conn: duckdb.DuckDBPyConnection) -> Pruned:
        """Delete one batch of what is over the limits; returns what it deleted.

        When a step finds nothing more to delete, the pass is over: after a size prune a
        checkpoint makes the freed space reusable, and the next check is ``check_every_s`` away.
        """
        # Set first, so that a step that fails is not retried in a tight loop.
        self._due = self._monotonic() + self._check_every
        cutoff = self._cutoff(conn)
        pruned = Pruned() if cutoff is None else self._delete_batch(conn, cutoff)
        self.total += pruned
        if pruned.items:
            self._pass_deleted += pruned.items
            self._due = self._monotonic() + self._pause
            return pruned
        if self._pass_deleted:
            # Makes the freed blocks reusable (and visible to the next size check) now rather
            # than at DuckDB's next automatic checkpoint.
            conn.execute("CHECKPOINT").fetchall()
            log.info("retention: deleted %d old items", self._pass_deleted)
            max_bytes = self.policy.max_bytes
            if self._size_cutoff is not None and max_bytes is not None:
                used = used_bytes(conn, self._path)
                if used > max_bytes:
                    self._size_floor = used
                    log.warning(
                        "retention: %s still used after deleting the oldest data, over the cap "
                        "of %s; DuckDB frees space a row group at a time",
                        _format_bytes(used),
                        _format_bytes(max_bytes),
                    )
        self._size_cutoff = None
        self._pass_deleted = 0
        self._due = self._monotonic() + self._check_every
        return pruned

    def run_pass(self, conn: duckdb.DuckDBPyConnection) -> Pruned:
        """Steps until nothing is over the limits (for tests and maintenance commands)."""
        total = Pruned()
        while True:
            pruned = self.step(conn)
            total += pruned
            if not pruned.items:
                return total

    # ------------------------------------------------------------------ internals

    def _cutoff(self, conn: duckdb.DuckDBPyConnection) -> int | None:
        """The ``received_ns`` before which data goes, or ``None`` if nothing is over a limit."""
        policy = self.policy
        cutoff = None
        if policy.max_age_ns is not None:
            cutoff = self._clock() - policy.max_age_ns
        if policy.max_bytes is not None and self._size_cutoff is None and not self._pass_deleted:
            used = used_bytes(conn, self._path)
            if used <= policy.max_bytes:
                self._size_floor = None
            elif self._size_floor is None or used > self._size_floor * 1.1:
                fraction = 1.0 - SIZE_TARGET * policy.max_bytes / used
                rows = conn.execute(_QUANTILE, {"fraction": fraction}).fetchall()
                if rows and rows[0][0] is not None:
                    # Strictly older than the quantile, plus the quantile itself.
                    self._size_cutoff = int(rows[0][0]) + 1
                    log.info(
                        "retention: %s used, over the cap of %s; deleting the oldest %.0f%%",
                        _format_bytes(used),
                        _format_bytes(policy.max_bytes),
                        fraction * 100,
                    )
        if self._size_cutoff is not None:
            cutoff = self._size_cutoff if cutoff is None else max(cutoff, self._size_cutoff)
        return cutoff

    def _delete_batch(self, conn: duckdb.DuckDBPyConnection, cutoff: int) -> Pruned:
        conn.execute("BEGIN")
        try:
            spans = conn.execute(
                _OLD_TRACES, {"cutoff": cutoff, "traces": self._batch_traces}
            ).fetchall()
            rows = {"cutoff": cutoff, "rows": self._batch_rows}
            logs = conn.execute(_OLD_ROWS.format(table="log_events"), rows).fetchall()
            points = conn.execute(_OLD_ROWS.format(table="metric_points"), rows).fetchall()
            # The per-session totals of the sessions that lost rows (store/rollups.py).
            rollups.rebuild(conn, {r[0] for r in (*spans, *logs, *points)})
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except duckdb.Error:
                log.exception("rollback failed")
            raise
        return Pruned(len(spans), len(logs), len(points))
