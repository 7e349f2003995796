"""Plain ``otelwatch``: the listeners, the store and the dashboard in one process."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import cast

import platformdirs

from otelwatch.claude_env import claude_code_env, export_lines
from otelwatch.commands.common import (
    OptionError,
    add_listen_options,
    exposure_warnings,
    fail,
    settings_from,
    warn,
)
from otelwatch.commands.recording import add_record_option, open_recorder, recorded_line
from otelwatch.export import write_summary_file
from otelwatch.ingest.errors import BindError
from otelwatch.ingest.tls import TlsError
from otelwatch.reading import read_database
from otelwatch.runtime import Runtime
from otelwatch.store.errors import StoreError
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.feed import CommitFeed
from otelwatch.tui.header import AppInfo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options, on the top-level parser."""
    add_listen_options(parser)
    parser.add_argument(
        "--no-listen",
        action="store_true",
        help="browse the database read-only, without opening any port",
    )
    add_record_option(parser)


def app_info(runtime: Runtime) -> AppInfo:
    """What the header and the empty state say about this instance."""
    settings = runtime.settings
    connect: tuple[str, ...] = ()
    if runtime.grpc is not None and runtime.http is not None:
        connect = tuple(
            export_lines(
                claude_code_env(
                    host=settings.host,
                    grpc_port=runtime.grpc.port,
                    http_port=runtime.http.port,
                    auth_token=settings.auth.token if settings.auth else None,
                    tls=settings.tls is not None,
                )
            )
        )
    return AppInfo(
        db_label=settings.db_label,
        grpc_address=runtime.grpc_address,
        http_address=runtime.http_address,
        retention=settings.retention.describe(),
        connect_lines=connect,
        export_session=lambda session_id: str(
            write_summary_file(runtime.reader(), session_id, Path.cwd())
        ),
        warnings=tuple(
            line.removeprefix("otelwatch: warning: ") for line in exposure_warnings(settings)
        ),
        storage_problem=lambda: runtime.writer.storage_error if runtime.writer else None,
    )


def log_to_file() -> Path:
    """Send log records to a file: on stderr they would be drawn over the dashboard."""
    path = Path(platformdirs.user_log_dir("otelwatch", appauthor=False)) / "otelwatch.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    return path


def browse(db: str) -> int:
    """The dashboard read-only on ``db``, through the otelwatch holding it if there is one."""
    try:
        with read_database(db) as source:
            log_to_file()
            # A RemoteReader answers every Reader query (otelwatch/control.py).
            info = AppInfo(db_label=str(Path(db).expanduser()), read_only=True)
            OtelwatchApp(cast(Reader, source), info, handle_sigterm=True).run()
    except StoreError as exc:
        return fail(str(exc))
    return 0


def run(args: argparse.Namespace) -> int:
    """Start the runtime, run the app until it quits, then drain and close."""
    try:
        settings = settings_from(args, listen=not args.no_listen)
    except OptionError as exc:
        return fail(str(exc))
    if args.no_listen:
        if args.record:
            return fail("--record needs the listeners; drop --no-listen")
        return browse(settings.db)
    try:
        recorder = open_recorder(args)
    except OSError as exc:
        return fail(f"cannot record to {args.record}: {exc.strerror or exc}")
    runtime = Runtime(settings, recorder=recorder)
    try:
        runtime.start()
    except (StoreError, BindError, TlsError) as exc:
        return fail(str(exc))
    # Printed before the dashboard takes the screen, so it is still in the terminal after it
    # ends; the dashboard shows it too, while it runs.
    warn(exposure_warnings(settings))
    feed = CommitFeed()
    runtime.subscribe(lambda committed: feed.notify(committed.tables, committed.items))
    log_to_file()
    app = OtelwatchApp(runtime.reader(), app_info(runtime), feed=feed, handle_sigterm=True)
    try:
        app.run()
    finally:
        print("otelwatch: writing what is queued…", file=sys.stderr, flush=True)
        runtime.stop()
        if recorder is not None:
            recorder.close()
            print(f"otelwatch: {recorded_line(recorder)}", file=sys.stderr)
    return 0
