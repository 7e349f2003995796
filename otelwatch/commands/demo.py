"""``otelwatch demo``: the dashboard, fed with generated Claude Code telemetry.

Starts a full otelwatch (listeners, writer, dashboard) on a temporary database and free ports,
and a background thread that sends it, as real OTLP requests to its own listeners, the
simulator's telemetry of several concurrent Claude Code sessions. The temporary database is
removed on exit.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from otelwatch.commands.common import fail, port
from otelwatch.commands.dashboard import app_info, log_to_file
from otelwatch.demo_feed import DemoFeed
from otelwatch.ingest.errors import BindError
from otelwatch.runtime import DEFAULT_HOST, Runtime, Settings
from otelwatch.simulator import Simulator
from otelwatch.store.errors import StoreError
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.feed import CommitFeed

NAME = "demo"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="the dashboard, live, on generated Claude Code telemetry",
        description="Run the dashboard on a temporary database and feed it, through its own "
        "OTLP listeners, the telemetry of several simulated Claude Code sessions. Nothing is "
        "kept: the database is removed on exit.",
    )
    parser.add_argument(
        "--sessions", type=int, default=4, metavar="N", help="concurrent sessions (default: 4)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=2.0,
        metavar="X",
        help="simulated seconds per real second (default: 2; the dashboard's clock follows)",
    )
    parser.add_argument(
        "--backfill",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="simulated history sent at start, so the screen is not empty (default: 180)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the simulation's seed (default: a random one)"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--grpc-port", type=port, default=0, metavar="N", help="OTLP/gRPC port (default: any free)"
    )
    parser.add_argument(
        "--http-port", type=port, default=0, metavar="N", help="OTLP/HTTP port (default: any free)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start otelwatch on a temporary database, feed it, run the dashboard, clean up."""
    if args.sessions < 1:
        return fail("--sessions must be at least 1")
    if args.speed <= 0:
        return fail("--speed must be positive")
    workdir = Path(tempfile.mkdtemp(prefix="otelwatch-demo-"))
    try:
        return _run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    settings = Settings(
        db=str(workdir / "demo.duckdb"),
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
    )
    runtime = Runtime(settings)
    try:
        runtime.start()
    except (StoreError, BindError) as exc:
        return fail(str(exc))
    assert runtime.grpc_address is not None
    assert runtime.http_address is not None
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    simulator = Simulator(
        seed=seed,
        sessions=args.sessions,
        start_ns=time.time_ns() - int(args.backfill * 1e9),
        # What `otelwatch env` configures, so the screen moves every second.
        traces_interval_s=1.0,
        logs_interval_s=1.0,
        metrics_interval_s=5.0,
    )
    feed = DemoFeed(
        simulator,
        runtime.grpc_address,
        runtime.http_address,
        speed=args.speed,
        backfill_s=args.backfill,
    )
    commits = CommitFeed()
    runtime.subscribe(lambda committed: commits.notify(committed.tables, committed.items))
    log_to_file()
    app = OtelwatchApp(
        runtime.reader(), app_info(runtime), feed=commits, clock=feed.now_ns, handle_sigterm=True
    )
    feed.start()
    try:
        app.run()
    finally:
        feed.stop()
        runtime.stop()
    print(
        f"otelwatch demo: sent {feed.stats.items:,} items in {feed.stats.requests:,} requests "
        f"(seed {seed}); the temporary database is removed.",
        file=sys.stderr,
    )
    return 0
