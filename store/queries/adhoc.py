"""The user's own SQL (``otelwatch query``), read-only whatever connection runs it.

Two guards, because either alone is not enough: the text must be exactly one statement that
DuckDB parses as a ``SELECT`` (which also covers ``FROM t``, ``VALUES``, ``DESCRIBE``, ``SHOW``
and ``SUMMARIZE``), and it runs inside ``BEGIN TRANSACTION READ ONLY`` that is rolled back
afterwards. The transaction matters: DuckDB parses ``WITH d AS (DELETE … RETURNING *) SELECT …``
as a SELECT and would run the DELETE. So the query is safe on a running otelwatch's own write
connection as well as on a read-only one.

Values come back as JSON-friendly Python values (numbers, text, booleans, ``None``): DuckDB casts
everything else to text first, so the same result travels unchanged through the control socket.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb

from otelwatch.store.errors import StoreError
from otelwatch.store.queries.base import QueryBase

DEFAULT_ROW_LIMIT = 10_000
DEFAULT_TIMEOUT_S = 120.0

# DuckDB type names whose values Python receives as plain numbers, text or booleans.
_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE")  # fmt: skip
_NESTED = ("[", "STRUCT(", "MAP(", "UNION(")


class QueryRefused(StoreError):
    """The statement is not a single read-only SELECT."""


class QueryFailed(StoreError):
    """DuckDB could not run the statement (syntax, unknown column, interrupted…)."""


@dataclass(frozen=True, slots=True)
class SqlResult:
    """Rows of an ad-hoc query.

    ``kinds`` says per column how to show a value: ``number``, ``bool``, ``text``, or ``json``
    (nested values and JSON columns, as JSON text). ``truncated`` is true when more rows than
    the limit matched.
    """

    columns: tuple[str, ...]
    types: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool


def single_select(sql: str) -> str:
    """The one SELECT statement in ``sql``, without its trailing semicolon.

    Raises :class:`QueryRefused` with a one-line reason for anything else.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(_first_line(str(exc))) from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    for statement in statements:
        kind = statement.type.name
        if kind != "SELECT":
            raise QueryRefused(
                f"{kind} statements are refused: otelwatch query only reads (SELECT, FROM, "
                "DESCRIBE, SHOW, SUMMARIZE)"
            )
    if len(statements) > 1:
        raise QueryRefused(f"refused {len(statements)} statements: give one at a time")
    statement = statements[0]
    return str(statement.query).strip().rstrip(";").strip()


def _kind(type_name: str) -> str:
    if type_name == "BOOLEAN":
        return "bool"
    if type_name in _NUMBER or type_name.startswith("DECIMAL"):
        return "number"
    if type_name == "JSON" or any(mark in type_name for mark in _NESTED):
        return "json"
    return "text"


def _projection(index: int, type_name: str) -> str:
    column = f"c{index}"
    if type_name.startswith("DECIMAL"):
        return f"CAST({column} AS DOUBLE)"
    kind = _kind(type_name)
    if kind in ("number", "bool"):
        return column
    if kind == "json" and type_name != "JSON":
        return f"CAST(to_json({column}) AS VARCHAR)"
    return f"CAST({column} AS VARCHAR)"


class AdhocQueries(QueryBase):
    """``otelwatch query``: the user's SELECT, read-only."""

    def run_sql(
        self, sql: str, limit: int = DEFAULT_ROW_LIMIT, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> SqlResult:
        """Run one read-only SELECT; at most ``limit`` rows; interrupted after ``timeout_s``.

        Raises :class:`QueryRefused` for anything but one SELECT, :class:`QueryFailed` when
        DuckDB cannot run it.
        """
        statement = single_select(sql)
        with self._cursor() as cur:
            timer = threading.Timer(timeout_s, cur.interrupt)
            timer.daemon = True
            timer.start()
            try:
                cur.execute("BEGIN TRANSACTION READ ONLY")
                try:
                    relation = cur.sql(statement)
                    columns = tuple(str(c) for c in relation.columns)
                    types = tuple(str(t) for t in relation.types)
                    # Renamed positionally, so duplicate or odd column names cannot collide;
                    # the newline ends a trailing `--` comment before the parenthesis.
                    names = ", ".join(f"c{i}" for i in range(len(columns)))
                    select = ", ".join(_projection(i, t) for i, t in enumerate(types))
                    rows = cur.execute(
                        f"SELECT {select} FROM ({statement}\n) AS q({names}) LIMIT ?",
                        [limit + 1],
                    ).fetchall()
                finally:
                    cur.execute("ROLLBACK")
            except duckdb.InterruptException:
                raise QueryFailed(
                    f"the query ran longer than {timeout_s:.0f} s and was stopped"
                ) from None
            except duckdb.Error as exc:
                message = _first_line(str(exc))
                if "read-only" in message:
                    raise QueryRefused(
                        f"the statement would write, and was refused: {message}"
                    ) from None
                raise QueryFailed(message) from None
            finally:
                timer.cancel()
        return SqlResult(
            columns=columns,
            types=types,
            kinds=tuple(_kind(t) for t in types),
            rows=tuple(tuple(row) for row in rows[:limit]),
            truncated=len(rows) > limit,
        )


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"
