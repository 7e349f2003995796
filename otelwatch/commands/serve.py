"""``otelwatch serve``: listeners and store without the dashboard."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from types import FrameType

from otelwatch import __version__
from otelwatch.commands.common import (
    OptionError,
    add_listen_options,
    exposure_warnings,
    fail,
    settings_from,
    warn,
)
from otelwatch.commands.recording import add_record_option, open_recorder, recorded_line
from otelwatch.ingest.errors import BindError
from otelwatch.ingest.tls import TlsError
from otelwatch.runtime import Runtime
from otelwatch.store.errors import StoreError

NAME = "serve"
PROGRESS_EVERY_S = 5.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="receive OTLP and store it, without the dashboard",
        description="Receive OTLP on gRPC and HTTP and store it. Ctrl-C (or SIGTERM) drains and "
        "stops.",
    )
    add_listen_options(parser)
    add_record_option(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing while running")
    parser.set_defaults(run=run)


def _say(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM, then drain and report what was stored."""
    try:
        settings = settings_from(args)
    except OptionError as exc:
        return fail(str(exc))
    try:
        recorder = open_recorder(args)
    except OSError as exc:
        return fail(f"cannot record to {args.record}: {exc.strerror or exc}")
    runtime = Runtime(settings, recorder=recorder)
    try:
        runtime.start()
    except (StoreError, BindError, TlsError) as exc:
        return fail(str(exc))
    assert runtime.receiver is not None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            # Everything acknowledged is already committed, so a forced exit loses nothing.
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    # Before the banner: whoever reads it may signal at once.
    signal.signal(signal.SIGTERM, on_signal)

    warn(exposure_warnings(settings))
    scheme = "https" if settings.tls else "http"
    _say(f"otelwatch {__version__}")
    _say(f"  OTLP/gRPC  {runtime.grpc_address}" + (" (TLS)" if settings.tls else ""))
    _say(f"  OTLP/HTTP  {scheme}://{runtime.http_address}")
    _say(f"  database   {settings.db_label}")
    if recorder is not None:
        _say(f"  recording  {recorder.path}")
    _say('Point Claude Code here with: eval "$(otelwatch env)"   Ctrl-C stops.')

    last = runtime.receiver.stats()
    while not stop.wait(PROGRESS_EVERY_S):
        now = runtime.receiver.stats()
        if not args.quiet and now.items != last.items:
            _say(
                f"{time.strftime('%H:%M:%S')}  +{now.spans - last.spans} spans  "
                f"+{now.log_events - last.log_events} events  "
                f"+{now.metric_points - last.metric_points} metric points"
            )
        last = now

    print("stopping: writing what is queued…", file=sys.stderr, flush=True)
    runtime.stop()
    total = runtime.receiver.stats()
    _say(
        f"stored {total.spans} spans, {total.log_events} events and {total.metric_points} "
        f"metric points from {total.requests} requests"
        + (f"; refused {total.rejected_items} items" if total.rejected_items else "")
    )
    if recorder is not None:
        recorder.close()
        _say(recorded_line(recorder))
    return 0
