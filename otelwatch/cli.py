"""The ``otelwatch`` command: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from otelwatch import __version__
from otelwatch.commands import (
    dashboard,
    demo,
    env,
    export,
    import_,
    query,
    replay,
    serve,
    trace,
)

# Each sub-command is a module with NAME, add_parser() and run(); list new ones here.
COMMANDS = (serve, env, demo, export, query, import_, replay, trace)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and exit status 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = _Parser(
        prog="otelwatch",
        description="Watch what an AI coding agent does and costs: a local OpenTelemetry "
        "receiver, DuckDB store and terminal dashboard. Without a COMMAND, runs the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"otelwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    # Without a command, otelwatch runs the dashboard; its options sit on the top level.
    dashboard.add_arguments(parser)
    parser.set_defaults(run=dashboard.run)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run otelwatch; returns the process exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="otelwatch: %(levelname)s: %(message)s")
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
