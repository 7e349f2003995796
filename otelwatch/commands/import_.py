"""``otelwatch import``: load recordings (Collector file-exporter format) into a database."""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from otelwatch.commands.common import add_db_option, db_path, fail
from otelwatch.ingest.decoding import DECODERS
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.record import BadLine, RecordingError, read_records
from otelwatch.ingest.signals import Encoding
from otelwatch.runtime import Runtime, Settings
from otelwatch.store.errors import DatabaseLocked, StoreError, StoreFull

NAME = "import"
# Requests queued ahead of the writer: enough for big group commits, little memory.
_IN_FLIGHT = 64
_SHOWN_PROBLEMS = 5


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="load recorded OTLP/JSON files (serve --record, Collector file exporter)",
        description="Load files of OTLP/JSON export requests, one per line, as written by "
        "`otelwatch serve --record` or the OpenTelemetry Collector's file exporter (plain or "
        "gzip). Each line's signal is read from its top-level key.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="recordings to load")
    add_db_option(parser)
    parser.set_defaults(run=run)


@dataclass
class Totals:
    """What an import did."""

    requests: int = 0
    spans: int = 0
    log_events: int = 0
    metric_points: int = 0
    rejected_items: int = 0
    bad_lines: int = 0
    failed_requests: int = 0


def run(args: argparse.Namespace) -> int:
    """Load every file in order; report counts; status 1 if any line could not be loaded."""
    files = [Path(f).expanduser() for f in args.files]
    for file in files:
        if not file.is_file():
            return fail(f"no such file: {file}")
    runtime = Runtime(Settings(db=db_path(args), listen=False))
    try:
        runtime.start()
    except DatabaseLocked as exc:
        return fail(
            f"{exc}; to add a recording to a running otelwatch, send it there: "
            "otelwatch replay FILE --to grpc://HOST:PORT --speed max"
        )
    except StoreError as exc:
        return fail(str(exc))
    totals = Totals()
    problems: list[str] = []
    started = time.monotonic()
    try:
        for file in files:
            try:
                _load(runtime, file, totals, problems)
            except RecordingError as exc:
                problems.append(str(exc))
                totals.bad_lines += 1
            except OSError as exc:
                problems.append(f"{file}: {exc.strerror or exc}")
                totals.bad_lines += 1
    finally:
        runtime.stop()
    for problem in problems[:_SHOWN_PROBLEMS]:
        print(f"otelwatch: {problem}", file=sys.stderr)
    if len(problems) > _SHOWN_PROBLEMS:
        print(f"otelwatch: … and {len(problems) - _SHOWN_PROBLEMS} more", file=sys.stderr)
    print(
        f"imported {totals.requests} requests: {totals.spans} spans, {totals.log_events} events, "
        f"{totals.metric_points} metric points in {time.monotonic() - started:.1f} s"
        + (f"; refused {totals.rejected_items} items" if totals.rejected_items else "")
        + (f"; {totals.bad_lines} lines could not be read" if totals.bad_lines else "")
        + (f"; {totals.failed_requests} requests not stored" if totals.failed_requests else ""),
        file=sys.stderr,
    )
    return 1 if totals.bad_lines or totals.failed_requests else 0


def _load(runtime: Runtime, file: Path, totals: Totals, problems: list[str]) -> None:
    """Decode each line here, in order, and queue it for the writer without waiting for each
    commit: the writer keeps the order and commits many requests at once."""
    writer = runtime.writer
    assert writer is not None
    pending: deque[tuple[str, Future[None]]] = deque()

    def settle(where: str, future: Future[None]) -> None:
        try:
            future.result()
        except StoreError as exc:
            totals.failed_requests += 1
            problems.append(f"{where}: {exc}")

    for item in read_records(file):
        if isinstance(item, BadLine):
            totals.bad_lines += 1
            problems.append(f"{item.path}:{item.line}: {item.reason}")
            continue
        where = f"{item.path}:{item.line}"
        try:
            batch = DECODERS[(item.signal, Encoding.JSON)](item.body, time.time_ns())
        except DecodeError as exc:
            totals.bad_lines += 1
            problems.append(f"{where}: {exc}")
            continue
        except Exception as exc:  # a decoder bug costs one line, not the import
            totals.bad_lines += 1
            problems.append(f"{where}: could not decode: {type(exc).__name__}: {exc}")
            continue
        while True:
            try:
                pending.append((where, writer.submit(batch)))
                break
            except StoreFull:
                if pending:
                    settle(*pending.popleft())
                else:
                    time.sleep(0.01)
        totals.requests += 1
        totals.spans += len(batch.spans)
        totals.log_events += len(batch.log_events)
        totals.metric_points += len(batch.metric_points)
        totals.rejected_items += batch.rejected
        if batch.rejected:
            problems.append(f"{where}: refused {batch.rejected} items: {batch.rejected_reason}")
        while len(pending) > _IN_FLIGHT:
            settle(*pending.popleft())
    while pending:
        settle(*pending.popleft())
