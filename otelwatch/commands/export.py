"""``otelwatch export``: one session's summary as Markdown, JSON or HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from otelwatch.commands.common import add_db_option, db_path, fail
from otelwatch.export import FORMATS, render
from otelwatch.reading import LATEST, SessionNotFound, read_database, resolve_session
from otelwatch.store.errors import StoreError

NAME = "export"
_SUFFIXES = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html", ".htm": "html"}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="write a session's summary (Markdown, JSON or HTML)",
        description="Summarise one session: time, cost and tokens, API requests, tools, code "
        "changes and every turn. Works while another otelwatch is running on the database.",
    )
    parser.add_argument(
        "--session",
        metavar="ID",
        default=LATEST,
        help="session id or a unique prefix of it (default: latest, the last active)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="md (default, renders on GitHub), json (docs/export.md) or html (one file)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (format from its suffix) not stdout"
    )
    parser.add_argument(
        "--include-prompts",
        action="store_true",
        help="include prompt text, where Claude Code exported it (OTEL_LOG_USER_PROMPTS=1)",
    )
    add_db_option(parser)
    parser.set_defaults(run=run)


def output_format(args: argparse.Namespace) -> str:
    """The format asked for, else the output file's suffix, else Markdown."""
    if args.format:
        return str(args.format)
    if args.output:
        return _SUFFIXES.get(Path(args.output).suffix.lower(), "md")
    return "md"


def run(args: argparse.Namespace) -> int:
    """Write the summary; one-line errors with status 2."""
    fmt = output_format(args)
    try:
        with read_database(db_path(args)) as source:
            session_id = resolve_session(source, args.session)
            summary = source.session_summary(session_id, include_prompts=args.include_prompts)
    except (StoreError, SessionNotFound) as exc:
        return fail(str(exc))
    document = render(summary, fmt)
    if not args.output or args.output == "-":
        sys.stdout.write(document)
        return 0
    target = Path(args.output).expanduser()
    try:
        target.write_text(document, encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write {target}: {exc.strerror}")
    print(f"otelwatch: wrote the summary of session {session_id} to {target}", file=sys.stderr)
    return 0
