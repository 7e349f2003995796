"""``--record FILE`` for ``serve`` and the dashboard: keep every accepted request in a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from otelwatch.ingest.record import Recorder


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """``--record FILE``."""
    parser.add_argument(
        "--record",
        metavar="FILE",
        type=Path,
        help="also append every accepted request to FILE, one OTLP/JSON request per line (the "
        "Collector file exporter's format); otelwatch import and replay read it",
    )


def open_recorder(args: argparse.Namespace) -> Recorder | None:
    """The recorder asked for, opened for appending; ``None`` without ``--record``.

    Raises ``OSError`` when the file cannot be opened.
    """
    if args.record is None:
        return None
    return Recorder(args.record.expanduser())


def recorded_line(recorder: Recorder) -> str:
    """What was recorded, for the report at exit."""
    line = f"recorded {recorder.lines} requests to {recorder.path}"
    if recorder.failures:
        line += f"; {recorder.failures} could not be recorded ({recorder.last_error})"
    return line
