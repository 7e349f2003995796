"""``otelwatch trace TRACE_ID``: the waterfall of one trace, from the start of its id."""

from __future__ import annotations

import argparse
import re
from typing import cast

from otelwatch.commands.common import add_db_option, db_path, fail
from otelwatch.reading import Source, read_database
from otelwatch.store.errors import StoreError
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.traces import TracesView

NAME = "trace"

_HEX = re.compile(r"[0-9a-f]{1,32}")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="open the waterfall of one trace",
        description="Open the dashboard (read-only, no listeners) on one trace's waterfall. "
        "The start of the trace id is enough when no other trace starts the same way. Esc "
        "goes to the trace list. Works whether or not another otelwatch holds the database.",
    )
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="a trace id (32 hex digits) or its first digits"
    )
    add_db_option(parser)
    parser.set_defaults(run=run)


def resolve(reader: Source, text: str) -> str:
    """The one stored trace id that starts with ``text``; raises ``LookupError`` saying why
    there is none."""
    prefix = text.strip().lower()
    if not _HEX.fullmatch(prefix):
        raise LookupError(f"not a trace id: {text!r} (up to 32 hex digits)")
    found = reader.trace_ids(prefix, limit=6)
    if not found:
        raise LookupError(f"no trace id starts with {prefix}")
    if len(found) > 1 and prefix not in found:
        cut = max(12, len(prefix) + 4)
        shown = ", ".join(f"{t[:cut]}…" for t in found[:5]) + (", …" if len(found) > 5 else "")
        raise LookupError(f"{prefix} starts more than one trace id ({shown}); give more digits")
    return prefix if prefix in found else found[0]


def run(args: argparse.Namespace) -> int:
    """Find the trace and run the dashboard on it."""
    db = db_path(args)
    try:
        with read_database(db) as source:
            try:
                trace_id = resolve(source, args.trace_id)
            except LookupError as exc:
                return fail(str(exc))
            # A RemoteReader answers every Reader query (otelwatch/control.py).
            app = OtelwatchApp(
                cast(Reader, source), AppInfo(db_label=db, read_only=True), start_view="3"
            )
            view = app.view("3")
            assert isinstance(view, TracesView)
            view.start_with_trace(trace_id)
            app.run()
    except StoreError as exc:
        return fail(str(exc))
    return 0
