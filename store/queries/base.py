"""What every query mixin shares: a cursor of its own per call, or one snapshot for several."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

# The threads QueryBase._at_once runs reads on (started on first use): one per core beside the
# caller's.
_QUERY_THREADS = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="otelwatch-query"
)


class QueryBase:
    """Holds the database connection; each query takes its own cursor, so any thread may call.

    A query made of several queries (the Overview's panels) runs them inside :meth:`snapshot`:
    one cursor and one read-only transaction, so that they all see the database as of the same
    commit and a panel never contradicts its neighbour.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn
        self._local = threading.local()

    def _cursor(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        shared: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if shared is not None:
            return contextlib.nullcontext(shared)  # the snapshot's; it closes it itself
        return self._conn.cursor()

    def _at_once(self, cur: Any, *calls: Callable[[Any], T]) -> list[T]:
        """The results of ``calls``, each given a cursor, run at the same time: the first on
        ``cur`` in this thread, the others on cursors of their own in the query threads.

        For independent reads that DuckDB runs on one core each (it splits a scan by row
        group, 122,880 rows, so a slice of the newest rows or a small table is one task): on
        two cores they take little more than the longest. Inside :meth:`snapshot` they run one
        after the other on its cursor, so that all see the same commit.
        """
        if len(calls) == 1 or getattr(self._local, "cursor", None) is not None:
            return [call(cur) for call in calls]
        others = [_QUERY_THREADS.submit(self._on_own_cursor, call) for call in calls[1:]]
        first = calls[0](cur)
        return [first, *(other.result() for other in others)]

    def _on_own_cursor(self, call: Callable[[Any], T]) -> T:
        with self._conn.cursor() as cur:
            return call(cur)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Queries made inside (on this thread) share one read-only transaction."""
        if getattr(self._local, "cursor", None) is not None:
            yield  # already inside one
            return
        cursor = self._conn.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION READ ONLY")
            self._local.cursor = cursor
            yield
        finally:
            self._local.cursor = None
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            cursor.close()


def next_look(looked: int, matched: int, limit: int) -> int:
    """How many older rows to look at next, when the newest ``looked`` rows gave ``matched`` of
    the ``limit`` wanted: as many as the rate of matches so far needs, and 30 % more, or nine
    times as many as so far when nothing matched."""
    if not matched:
        return looked * 9
    return int(looked * (limit - matched) / matched * 1.3)


def like_pattern(text: str) -> str:
    """An ILIKE pattern matching ``text`` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_match(text: str, *columns: str) -> tuple[str, list[Any]]:
    """SQL true when any of ``columns`` contains ``text``, ignoring case, and its parameters."""
    if text.isascii():
        # A case-insensitive regular expression of the literal text, each character that is
        # not a letter or digit written as \x{..}: over a million events' attributes, 300 ms
        # against 540 for ILIKE. Not for other text: RE2 then folds case character by
        # character, and took twice as long as ILIKE.
        pattern = "(?i)" + "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)
        sql = " OR ".join(f"regexp_matches({column}, ?)" for column in columns)
        return f"({sql})", [pattern] * len(columns)
    sql = " OR ".join(f"{column} ILIKE ? ESCAPE '\\'" for column in columns)
    return f"({sql})", [like_pattern(text)] * len(columns)
