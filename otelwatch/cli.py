"""The ``otelwatch`` command: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

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


# Options that apply to every command, so they may come before it.
_GLOBAL_OPTIONS = frozenset({"-v", "-vv", "-vvv", "--verbose"})


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
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    if args.command is not None and args.command in words:
        # The dashboard's options sit on the top level, so argparse takes `otelwatch --db X
        # serve` and then lets serve's own defaults overwrite them: the user's --db is lost.
        before = words[: words.index(args.command)]
        misplaced = [w for w in before if w.startswith("-") and w not in _GLOBAL_OPTIONS]
        if misplaced:
            option = misplaced[0].split("=", 1)[0]
            parser.error(f"{option} goes after the command: otelwatch {args.command} {option} …")
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="otelwatch: %(levelname)s: %(message)s")
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        if not _reader_gone(sys.stdout):
            raise  # some other pipe: a real error
        # The reader went away (`otelwatch query … | head`): not an error. Point stdout at
        # /dev/null so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


def _reader_gone(stream: TextIO) -> bool:
    """Whether ``stream`` is a pipe whose reading end was closed (poll reports an error)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
