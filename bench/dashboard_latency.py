"""How soon the dashboard shows what was committed, and whether it stays responsive, under load.

Starts a full otelwatch in this process (listeners, writer, and the app headless under Pilot at
120x40, on the Overview or another view), and ``bench/loadgen.py`` in another process sending
Claude Code's natural stream of small requests at ``--rate`` items/s over gRPC, as Claude Code
processes would. Measured:

- export to screen: for every request, from the client's send to the end of the first frame
  painted after a load of the visible view that started once the client had its
  acknowledgement (given only after the commit). Both processes read the same monotonic clock
  (``CLOCK_MONOTONIC``). A load that started between the commit and the acknowledgement's
  arrival would have shown the data too, so the figure can only err high, by one refresh at
  most, for the few requests acknowledged during a load's first milliseconds;
- commit to screen: for every commit, the time until a view load that started after it was
  shown (the app reloads the visible view at most every 0.3 s, one load at a time);
- event-loop lag: how late a 50 ms timer on the UI thread fires (what a key press would wait);
- loads: how many, and how long each query took.

    .venv/bin/python bench/dashboard_latency.py --rate 1000 --duration 30
    .venv/bin/python bench/dashboard_latency.py --db big.duckdb --view 2   # a copy of big.duckdb
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from otelwatch.runtime import Runtime, Settings
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.feed import CommitFeed
from otelwatch.tui.header import AppInfo
from otelwatch.tui.view import DataView

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # bench/ is not a package: for loadgen


def quantiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 (nearest rank) and max, in milliseconds."""
    if not values:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(1, math.ceil(q * len(ordered))) - 1]

    return {
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p95": round(rank(0.95) * 1000, 1),
        "p99": round(rank(0.99) * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
    }


def send(argv: list[str]) -> int:
    """The load generator's child process: send, then print the report and every request."""
    from loadgen import Outcome, execute, parse_args

    outcomes: list[Outcome] = []
    report = execute(parse_args(argv), keep=outcomes)
    requests = [(o.started, o.latency_s, o.status, o.items) for o in outcomes]
    print(json.dumps({"report": asdict(report), "requests": requests}))
    return 0


async def measure(args: argparse.Namespace, db: Path) -> dict[str, Any]:
    runtime = Runtime(Settings(db=str(db), grpc_port=0, http_port=0))
    runtime.start()
    assert runtime.grpc_address is not None
    commits: list[tuple[float, int]] = []
    lock = threading.Lock()

    def on_commit(committed: Any) -> None:
        with lock:
            commits.append((time.monotonic(), committed.items))

    feed = CommitFeed()
    runtime.subscribe(lambda c: feed.notify(c.tables, c.items))
    runtime.subscribe(on_commit)
    app = OtelwatchApp(
        runtime.reader(),
        AppInfo(db_label=str(db), grpc_address=runtime.grpc_address),
        feed=feed,
        start_view=args.view,
    )
    loads: list[float] = []  # start time of each load of the measured view
    shows: list[tuple[float, float]] = []  # (load start, shown at)
    started: dict[str, float] = {}
    original_load = app.load_view

    def load_view(view: DataView, *, refresh: bool = False) -> None:
        if not (refresh and view.KEY in app._loading):  # as load_view decides to start one
            started[view.KEY] = time.monotonic()
            if args.view == view.KEY:
                loads.append(started[view.KEY])
        original_load(view, refresh=refresh)

    app.load_view = load_view  # type: ignore[method-assign]
    lags: list[float] = []

    async with app.run_test(size=(120, 40)) as pilot:
        view = app.view(args.view)
        original_show = view.show

        def show(data: Any) -> None:
            original_show(data)
            start = started[view.KEY]
            # On screen once the frame after it is painted.
            app.call_after_refresh(lambda: shows.append((start, time.monotonic())))

        view.show = show  # type: ignore[method-assign]
        await pilot.pause(0.5)
        with tempfile.TemporaryFile("w+") as output:
            loadgen = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--send",
                    "--target",
                    runtime.grpc_address,
                    "--transport",
                    "grpc",
                    "--signal",
                    "claude",
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.duration),
                    "--senders",
                    str(args.senders),
                ],
                # A file, not a pipe: a pipe would fill while this loop only polls.
                stdout=output,
                text=True,
            )
            began = time.monotonic()
            expected = time.monotonic() + 0.05
            while loadgen.poll() is None:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                lags.append(max(0.0, now - expected))
                expected = now + 0.05
            output.seek(0)
            sent = json.loads(output.read() or "{}")
            report = sent.get("report", {})
        ended = time.monotonic()
        await pilot.pause(1.0)
        await app.workers.wait_for_complete()
    runtime.stop()

    during = [(t, n) for t, n in commits if began <= t <= ended]
    # The rate over the time data arrived (the load generator builds its requests first).
    span = (during[-1][0] - during[0][0]) if len(during) > 1 else 1.0
    latencies = []
    for t, _ in during:
        after = [shown for start, shown in shows if start >= t]
        if after:
            latencies.append(min(after) - t)
    # Export to screen, per request: from its send to the first frame of a load that started
    # after its acknowledgement arrived.
    starts = sorted(shows)
    export_latencies, unseen = [], 0
    for sent_at, latency, status, _items in sent.get("requests", []):
        if status != "OK":
            continue
        acked = sent_at + latency
        after = [shown for start, shown in starts if start >= acked]
        if after:
            export_latencies.append(min(after) - sent_at)
        else:
            unseen += 1
    query_times = [shown - start for start, shown in shows if began <= start <= ended]
    return {
        "rate_asked": args.rate,
        "duration_s": args.duration,
        "view": args.view,
        "items_committed": sum(n for _, n in during),
        "items_per_s": round(sum(n for _, n in during) / max(1e-9, span)),
        "commits": len(during),
        "loads": sum(1 for t in loads if began <= t <= ended),
        "export_to_screen_ms": quantiles(export_latencies),
        "requests_timed": len(export_latencies),
        "requests_never_shown": unseen,
        "commit_to_screen_ms": quantiles(latencies),
        "load_to_show_ms": quantiles(query_times),
        "event_loop_lag_ms": quantiles(lags),
        "loadgen": {
            k: report.get(k)
            for k in ("items_per_s", "items_acknowledged", "items_rejected", "latency_ms", "errors")
        },
    }


def main() -> int:
    if sys.argv[1:2] == ["--send"]:
        return send(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="items/s sent (default 1000)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--senders", type=int, default=8, help="loadgen senders (default 8)")
    parser.add_argument("--view", default="1", help="the view on screen (default 1, Overview)")
    parser.add_argument("--db", type=Path, help="start from a copy of this database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="otelwatch-bench-") as tmp:
        db = Path(tmp) / "bench.duckdb"
        if args.db:
            shutil.copy(args.db, db)
        result = asyncio.run(measure(args, db))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
