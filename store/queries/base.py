"""What every query mixin shares: a cursor of its own per call."""

from __future__ import annotations

import duckdb


class QueryBase:
    """Holds the database connection; each query takes its own cursor, so any thread may call."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._conn.cursor()


def like_pattern(text: str) -> str:
    """An ILIKE pattern matching ``text`` anywhere, with its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
