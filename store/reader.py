"""Every read the application makes, as named queries returning small frozen results.

A :class:`Reader` may be used from any thread: each call takes its own cursor on the shared
database, because a DuckDB connection must not be used by two threads at once. Callers never see
SQL or a cursor. The queries live in ``store/queries/``, one module per area.
"""

from __future__ import annotations

from otelwatch.store.models import TableCounts
from otelwatch.store.queries.adhoc import AdhocQueries
from otelwatch.store.queries.events import EventQueries
from otelwatch.store.queries.overview import OverviewQueries
from otelwatch.store.queries.sessions import SessionQueries
from otelwatch.store.queries.summary import SummaryQueries
from otelwatch.store.queries.traces import TraceQueries


class Reader(
    EventQueries, SummaryQueries, AdhocQueries, OverviewQueries, SessionQueries, TraceQueries
):
    """Named read queries over one open database."""

    def table_counts(self) -> TableCounts:
        """Row counts of the four data tables."""
        with self._cursor() as cur:
            row = cur.execute(
                """
                SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM log_events),
                       (SELECT count(*) FROM metric_points), (SELECT count(*) FROM resources)
                """
            ).fetchone()
        assert row is not None
        return TableCounts(*(int(v) for v in row))
