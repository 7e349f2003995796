"""``otelwatch query``: your own read-only SQL over the documented schema (docs/schema.md)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from otelwatch.commands.common import add_db_option, db_path, fail
from otelwatch.reading import read_database
from otelwatch.store.errors import StoreError
from otelwatch.store.queries.adhoc import DEFAULT_ROW_LIMIT, SqlResult
from otelwatch.tui.format import printable

NAME = "query"
FORMATS = ("table", "csv", "json")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="run a read-only SQL query on the database",
        description="Run one SELECT over the tables of docs/schema.md (spans, log_events, "
        "metric_points, resources). Statements that would write are refused. Works while "
        "another otelwatch is running on the database.",
    )
    parser.add_argument("sql", metavar="SQL", help="one SELECT statement; '-' reads it from stdin")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_ROW_LIMIT,
        metavar="N",
        help=f"return at most N rows (default: {DEFAULT_ROW_LIMIT})",
    )
    add_db_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the query and print its rows."""
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    try:
        with read_database(db_path(args)) as source:
            result = source.run_sql(sql, limit=args.limit)
    except StoreError as exc:
        return fail(str(exc))
    if args.format == "csv":
        write_csv(result)
    elif args.format == "json":
        sys.stdout.write(json.dumps(json_rows(result), indent=2, ensure_ascii=False) + "\n")
    else:
        print_table(result)
    if result.truncated:
        print(
            f"otelwatch: showing the first {len(result.rows)} rows; --limit N shows more",
            file=sys.stderr,
        )
    return 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(result: SqlResult) -> None:
    """RFC 4180 CSV with a header row; NULL is an empty field."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_text(v) for v in row])


def json_rows(result: SqlResult) -> list[dict[str, Any]]:
    """One object per row; nested and JSON columns as JSON values, not text.

    Columns of the same name get a ``_2``, ``_3`` suffix so no value is lost.
    """
    keys: list[str] = []
    for name in result.columns:
        key, n = name, 1
        while key in keys:
            n += 1
            key = f"{name}_{n}"
        keys.append(key)
    out = []
    for row in result.rows:
        item = {}
        for key, kind, value in zip(keys, result.kinds, row, strict=True):
            item[key] = value
            if kind == "json" and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    item[key] = json.loads(value)
        out.append(item)
    return out


def print_table(result: SqlResult) -> None:
    """A table for people: numbers right-aligned, telemetry text never read as markup."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name, kind in zip(result.columns, result.kinds, strict=True):
        table.add_column(Text(printable(name)), justify="right" if kind == "number" else "left")
    for row in result.rows:
        table.add_row(
            *(
                Text(printable(_text(v))) if v is not None else Text("NULL", style="dim")
                for v in row
            )
        )
    console = Console(soft_wrap=False)
    console.print(table)
    noun = "row" if len(result.rows) == 1 else "rows"
    console.print(Text(f"{len(result.rows)} {noun}", style="dim"))
