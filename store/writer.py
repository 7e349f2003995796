"""The single writer: group commit, acknowledged only after the data is on disk.

Every export request becomes one :class:`~otelwatch.store.rows.RowBatch`. Request handlers call
:meth:`Writer.write`, which queues the batch and blocks until it is committed. The writer thread
takes everything queued, inserts it as one Arrow table per table in one transaction, commits, and
only then releases the waiting handlers. So an OK sent to an exporter always means the data is in
the database file, and a crash loses nothing that was acknowledged.

Under load groups grow by themselves (everything that arrived during the previous commit goes into
the next one), so there is no timer between commits and no added latency at low rates.

When the database cannot be written (disk full, read-only file or directory), the waiting requests
fail with :class:`StoreUnavailable` and nothing is acknowledged. For a second after such a failure
new batches are refused at once, then the next group tries again, so writing resumes by itself
when space is freed. If DuckDB gives up on the database altogether (a failed checkpoint
invalidates it), every batch is refused until otelwatch is restarted. Between commits the thread
also runs the retention steps (:mod:`otelwatch.store.retention`), since it is the only writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from otelwatch.store import rollups
from otelwatch.store.arrow_rows import table
from otelwatch.store.errors import BatchRejected, StoreError, StoreFull, StoreUnavailable
from otelwatch.store.recent import RecentKeys
from otelwatch.store.retention import Retention
from otelwatch.store.rows import (
    LOG_EVENT_COLUMNS,
    METRIC_MONOTONIC,
    METRIC_POINT_COLUMNS,
    METRIC_SERIES_KEY,
    METRIC_START_NS,
    METRIC_TEMPORALITY,
    METRIC_TIME_NS,
    METRIC_TYPE,
    METRIC_VALUE,
    RESOURCE_COLUMNS,
    SPAN_COLUMNS,
    MetricPointRow,
    PackedRows,
    ResourceRow,
    RowBatch,
    log_key,
    span_key,
)
from otelwatch.store.temporality import CumulativeTracker, SeriesState, cumulative_increase

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Committed:
    """What one commit wrote; passed to the ``on_commit`` callback after the commit."""

    spans: int
    log_events: int
    metric_points: int
    resources: int
    requests: int
    seconds: float

    @property
    def tables(self) -> frozenset[str]:
        """Names of the tables that received rows."""
        counts = {
            "spans": self.spans,
            "log_events": self.log_events,
            "metric_points": self.metric_points,
            "resources": self.resources,
        }
        return frozenset(name for name, n in counts.items() if n)

    @property
    def items(self) -> int:
        """Spans, log events and metric points written."""
        return self.spans + self.log_events + self.metric_points


@dataclass(slots=True)
class _Pending:
    batch: RowBatch
    future: Future[None]


@dataclass(slots=True)
class _Call:
    function: Callable[[duckdb.DuckDBPyConnection], Any]
    future: Future[Any]


_STOP = object()
# After a failed commit, new batches are refused without trying for this long.
REFUSE_AFTER_FAILURE_S = 1.0
# Errors about the database or its storage rather than about the rows: retrying the requests
# of a group one by one cannot help, and each gets the retryable StoreUnavailable.
_STORAGE_ERRORS = (
    duckdb.IOException,
    duckdb.TransactionException,
    duckdb.PermissionException,
    duckdb.OutOfMemoryException,
)


class Writer:
    """Owns the write connection; the only code that writes to the database.

    ``max_queued_items`` bounds memory: when that many items wait, :meth:`write` raises
    :class:`StoreFull` at once so the exporter retries later instead of waiting on a time-out.
    """

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        *,
        max_queued_items: int = 200_000,
        max_items_per_commit: int = 50_000,
        on_commit: Callable[[Committed], None] | None = None,
        recent_capacity: int = 400_000,
        retention: Retention | None = None,
    ) -> None:
        self._conn = conn
        self._retention = retention
        # A message while the database refuses writes; ``_fatal`` when it never will again.
        self._storage_error: str | None = None
        self._fatal = False
        self._refuse_until = 0.0
        self._max_queued = max_queued_items
        self._max_per_commit = max_items_per_commit
        self._on_commit = on_commit
        self._queue: deque[_Pending | _Call | object] = deque()
        self._queued_items = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="otelwatch-writer", daemon=True)
        self._seen_spans = RecentKeys(recent_capacity)
        self._seen_logs = RecentKeys(recent_capacity)
        self._seen_points = RecentKeys(recent_capacity)
        self._known_resources: set[str] = {
            row[0] for row in conn.execute("SELECT resource_id FROM resources").fetchall()
        }
        self._cumulative = CumulativeTracker(self._lookup_series)
        self.committed_items = 0
        # When the last commit ended (monotonic): the checkpointer prefers quiet moments.
        self.last_commit = time.monotonic()
        self.duplicates_dropped = 0

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, batch: RowBatch) -> Future[None]:
        """Queue ``batch``; the future completes when it is committed (or fails).

        Raises :class:`StoreFull` when the queue is over its bound and :class:`StoreUnavailable`
        once the writer is closing. An empty queue always takes a batch, however large.
        """
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise StoreUnavailable("otelwatch is shutting down")
            if self._storage_error is not None and (
                self._fatal or time.monotonic() < self._refuse_until
            ):
                raise StoreUnavailable(self._storage_error)
            if self._queued_items and self._queued_items + batch.item_count > self._max_queued:
                raise StoreFull(f"{self._queued_items} items are waiting to be written")
            self._queue.append(_Pending(batch, future))
            self._queued_items += batch.item_count
            self._cond.notify()
        return future

    def write(self, batch: RowBatch, timeout: float | None = None) -> None:
        """Queue ``batch`` and wait until it is committed. Raises what the commit raised."""
        self.submit(batch).result(timeout)

    def call(self, function: Callable[[duckdb.DuckDBPyConnection], Any]) -> Future[Any]:
        """Run ``function(connection)`` on the writer thread, between two commits."""
        future: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise StoreUnavailable("otelwatch is shutting down")
            self._queue.append(_Call(function, future))
            self._cond.notify()
        return future

    @property
    def queued_items(self) -> int:
        """Items waiting to be written."""
        return self._queued_items

    @property
    def storage_error(self) -> str | None:
        """Why the database refuses writes at the moment, or ``None`` while it takes them."""
        return self._storage_error

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new batches, write everything already queued, and stop the thread."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._queue.append(_STOP)
                self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            group, call, stop = self._take_group()
            if group:
                self._commit_group(group)
            if call is not None:
                self._run_call(call)
            if stop:
                return
            self._maintain()

    def _take_group(self) -> tuple[list[_Pending], _Call | None, bool]:
        with self._cond:
            while not self._queue:
                wait = self._maintenance_due_in()
                if wait is not None and wait <= 0:
                    return [], None, False
                self._cond.wait(wait)
            group: list[_Pending] = []
            items = 0
            while self._queue and items < self._max_per_commit:
                head = self._queue[0]
                if head is _STOP:
                    self._queue.popleft()
                    self._queued_items -= items
                    return group, None, True
                if isinstance(head, _Call):
                    if not group:
                        self._queue.popleft()
                        return [], head, False
                    break  # commit what came before it first
                assert isinstance(head, _Pending)
                self._queue.popleft()
                group.append(head)
                items += head.batch.item_count
            self._queued_items -= items
            return group, None, False

    def _run_call(self, call: _Call) -> None:
        try:
            call.future.set_result(call.function(self._conn))
        except BaseException as exc:
            call.future.set_exception(exc)

    def _maintenance_due_in(self) -> float | None:
        if self._retention is None or self._fatal:
            return None
        return self._retention.seconds_until_due()

    def _maintain(self) -> None:
        """One retention step, if one is due; never lets an error out of the writer thread."""
        due = self._maintenance_due_in()
        if due is None or due > 0:
            return
        assert self._retention is not None
        try:
            self._retention.step(self._conn)
        except duckdb.FatalException as exc:
            self._storage_failed(exc)
        except Exception:
            # Retention must not stop ingest; it is tried again at the next check.
            log.exception("retention step failed")

    def _storage_failed(self, exc: duckdb.Error) -> StoreUnavailable:
        """Record that the database refused a write; the error to give the waiting requests."""
        message = _first_line(exc).removeprefix("TransactionContext Error: ")
        message = message.removeprefix("FATAL Error: ")
        fatal = isinstance(exc, duckdb.FatalException)
        if fatal:
            text = (
                f"the database can no longer be written ({message}); new data is refused "
                "until otelwatch is restarted"
            )
        else:
            text = f"cannot write the database ({message}); new data is refused until it can"
        with self._cond:
            changed = text != self._storage_error
            self._storage_error = text
            self._fatal = self._fatal or fatal
            self._refuse_until = time.monotonic() + REFUSE_AFTER_FAILURE_S
            if fatal:
                # Nothing queued can be written any more: answer those requests now.
                doomed = [p for p in self._queue if isinstance(p, _Pending)]
                self._queue = deque(p for p in self._queue if not isinstance(p, _Pending))
                self._queued_items = 0
            else:
                doomed = []
        if changed:
            log.error("%s", text)
        for pending in doomed:
            pending.future.set_exception(StoreUnavailable(text))
        return StoreUnavailable(text)

    def _storage_recovered(self) -> None:
        with self._cond:
            if self._storage_error is None or self._fatal:
                return
            self._storage_error = None
        log.warning("the database takes writes again")

    def _commit_group(self, group: list[_Pending]) -> None:
        if self._fatal:
            error = StoreUnavailable(self._storage_error or "the database cannot be written")
            for pending in group:
                pending.future.set_exception(error)
            return
        try:
            committed = self._insert([p.batch for p in group])
        except (duckdb.FatalException, *_STORAGE_ERRORS) as exc:
            error = self._storage_failed(exc)
            # DuckDB says so when the commit itself reached the disk and only the checkpoint
            # after it failed: that data is kept, so it is acknowledged.
            durable = isinstance(exc, duckdb.FatalException) and "COMMIT succeeded" in str(exc)
            for pending in group:
                if durable:
                    pending.future.set_result(None)
                else:
                    pending.future.set_exception(error)
            return
        except duckdb.Error as exc:
            if len(group) > 1:
                # One bad request must not fail its neighbours: write them one by one.
                for pending in group:
                    self._commit_group([pending])
                return
            self._fail(group[0], exc)
            return
        except Exception as exc:  # a bug must fail the request, never kill the writer
            log.exception("writer failed")
            for pending in group:
                pending.future.set_exception(StoreUnavailable(f"internal error: {exc}"))
            return
        if self._storage_error is not None:
            self._storage_recovered()
        for pending in group:
            pending.future.set_result(None)
        self.committed_items += committed.items
        self.last_commit = time.monotonic()
        if self._on_commit is not None and (committed.items or committed.resources):
            try:
                self._on_commit(committed)
            except Exception:
                log.exception("on_commit callback failed")

    def _fail(self, pending: _Pending, exc: duckdb.Error) -> None:
        message = _first_line(exc)
        error: StoreError
        if isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException):
            error = BatchRejected(f"the data could not be stored: {message}")
        else:
            error = StoreUnavailable(f"the database refused the write: {message}")
        log.warning("%s", error)
        pending.future.set_exception(error)

    # ------------------------------------------------------------------ one transaction

    def _insert(self, batches: Sequence[RowBatch]) -> Committed:
        started = time.perf_counter()
        resources: list[ResourceRow] = []
        new_resource_ids: set[str] = set()
        spans = _NewRows(self._seen_spans)
        logs = _NewRows(self._seen_logs)
        points = _NewRows(self._seen_points)

        for batch in batches:
            for rid, resource in batch.resources.items():
                if rid not in self._known_resources and rid not in new_resource_ids:
                    new_resource_ids.add(rid)
                    resources.append(resource)
            spans.add_rows(batch.spans, span_key)
            logs.add_rows(batch.log_events, log_key)
            if batch.packed_spans is not None:
                spans.add_packed(batch.packed_spans)
            if batch.packed_log_events is not None:
                logs.add_packed(batch.packed_log_events)
            points.add_rows(batch.metric_points, _point_key)

        increases, series_changes = self._increases(points.rows)

        inserts: list[tuple[str, Sequence[str], pa.Table]] = []
        if resources:
            inserts.append(("resources", RESOURCE_COLUMNS, table(RESOURCE_COLUMNS, resources)))
        span_table = spans.as_table(SPAN_COLUMNS)
        if span_table is not None:
            inserts.append(("spans", SPAN_COLUMNS, span_table))
        log_table = logs.as_table(LOG_EVENT_COLUMNS)
        if log_table is not None:
            inserts.append(("log_events", LOG_EVENT_COLUMNS, log_table))
        columns = (*METRIC_POINT_COLUMNS, "increase")
        point_table = points.as_table(columns, extra=increases)
        if point_table is not None:
            inserts.append(("metric_points", columns, point_table))
        self._run_transaction(inserts)

        # Only what is on disk may be remembered.
        self._known_resources |= new_resource_ids
        for new in (spans, logs, points):
            new.remember()
            self.duplicates_dropped += new.dropped
        self._cumulative.update(series_changes)
        return Committed(
            spans=spans.count,
            log_events=logs.count,
            metric_points=points.count,
            resources=len(resources),
            requests=len(batches),
            seconds=time.perf_counter() - started,
        )

    def _run_transaction(self, inserts: list[tuple[str, Sequence[str], pa.Table]]) -> None:
        """Insert every table in one transaction.

        DuckDB reads each Arrow table from a local variable (a replacement scan), not from a
        registered view: registering and unregistering cost two more calls per table and commit
        (about half a millisecond, measured), and unregistering inside an aborted transaction
        would fail and hide the error that aborted it.
        """
        conn = self._conn
        try:
            conn.execute("BEGIN")
            for table, columns, _otelwatch_rows in inserts:
                column_list = ", ".join(f'"{c}"' for c in columns)
                conn.execute(
                    f"INSERT INTO {table} ({column_list}) SELECT * FROM _otelwatch_rows"
                ).fetchall()
            rollups.add(conn, {table: arrow for table, _, arrow in inserts})
            conn.execute("COMMIT")
        except duckdb.FatalException:
            # DuckDB has given up on the database: any further statement, the rollback
            # included, would only fail and hide this error.
            raise
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except duckdb.FatalException:
                # The failure invalidated the database (seen when a commit's checkpoint could
                # not remove the log): that, not the first error, is what to report.
                raise
            except duckdb.TransactionException:
                pass  # a failed COMMIT (or BEGIN) leaves no transaction to roll back
            except duckdb.Error:
                log.exception("rollback failed")
            raise

    def _increases(
        self, points: list[MetricPointRow]
    ) -> tuple[list[float | None], dict[str, SeriesState]]:
        """``increase`` for each point, and the cumulative series states after them."""
        cumulative_keys = [
            p[METRIC_SERIES_KEY]
            for p in points
            if p[METRIC_TYPE] == "sum" and p[METRIC_TEMPORALITY] == "cumulative"
        ]
        if cumulative_keys:
            self._cumulative.prefetch(cumulative_keys)
        increases: list[float | None] = []
        changes: dict[str, SeriesState] = {}
        for p in points:
            value = p[METRIC_VALUE]
            if p[METRIC_TYPE] != "sum" or value is None:
                increases.append(None)
            elif p[METRIC_TEMPORALITY] == "cumulative":
                key = p[METRIC_SERIES_KEY]
                previous = changes.get(key) or self._cumulative.get(key)
                increase, state = cumulative_increase(
                    previous,
                    p[METRIC_START_NS],
                    p[METRIC_TIME_NS],
                    value,
                    bool(p[METRIC_MONOTONIC]),
                )
                if state is not None:
                    changes[key] = state
                increases.append(increase)
            else:
                increases.append(value)
        return increases, changes

    def _lookup_series(self, keys: list[str]) -> dict[str, SeriesState]:
        rows = self._conn.execute(
            """
            SELECT series_key, arg_max(start_ns, time_ns), max(time_ns), arg_max(value, time_ns)
            FROM metric_points
            WHERE metric_type = 'sum' AND temporality = 'cumulative'
              AND series_key IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY series_key
            """,
            [keys],
        ).fetchall()
        return {key: SeriesState(int(start), int(t), float(v)) for key, start, t, v in rows}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _point_key(point: MetricPointRow) -> Hashable:
    """What makes a metric point a repeat: its series and times."""
    return (point[METRIC_SERIES_KEY], point[METRIC_START_NS], point[METRIC_TIME_NS])


class _NewRows:
    """The rows of one table in a group that are not repeats, as rows and as packed tables."""

    __slots__ = ("_batch_keys", "_keys", "_rows", "_seen", "_tables", "count", "dropped")

    def __init__(self, seen: RecentKeys) -> None:
        self._seen = seen
        self._batch_keys: set[Hashable] = set()
        self._keys: list[Hashable] = []
        self._rows: list[Any] = []
        self._tables: list[pa.Table] = []
        self.count = 0
        self.dropped = 0

    def _is_new(self, key: Hashable) -> bool:
        if key in self._batch_keys or key in self._seen:
            self.dropped += 1
            return False
        self._batch_keys.add(key)
        self._keys.append(key)
        self.count += 1
        return True

    def add_rows(self, rows: Sequence[tuple[Any, ...]], key: Callable[[Any], Hashable]) -> None:
        self._rows.extend(row for row in rows if self._is_new(key(row)))

    def add_packed(self, packed: PackedRows) -> None:
        mask = [self._is_new(key) for key in packed.keys]
        if all(mask):
            self._tables.append(packed.table)
        elif any(mask):
            self._tables.append(packed.table.filter(pa.array(mask, pa.bool_())))

    @property
    def rows(self) -> list[Any]:
        """The new rows that came as rows (not packed), in order."""
        return self._rows

    def as_table(self, columns: Sequence[str], extra: list[Any] | None = None) -> pa.Table | None:
        """Every new row as one table (``extra``: one more column for the rows that came as
        rows), or ``None`` when there is none."""
        tables = list(self._tables)
        if self._rows:
            tables.append(table(columns, self._rows, extra))
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def remember(self) -> None:
        """After the commit: remember the keys written, so that retries are dropped."""
        self._seen.expire()
        for key in self._keys:
            self._seen.add(key)
