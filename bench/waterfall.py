"""Trace explorer benchmark: the trace queries at a million spans, and a 10,000-span waterfall.

1. A database of about a million Claude-Code-shaped spans, a million events and a million
   metric points, built by ``bench/bigdb.py`` (the simulator through the real decoder and
   writer for ``--seed-spans`` spans, then copied ``--copies`` times in SQL), with one trace of
   10,000 spans added last. The database is kept (``--db``) and reused by later runs, and by
   ``bench/queries.py``.
2. Each named query of the Traces view, timed ``--repeat`` times round-robin (so a burst of
   other work on the machine hits all of them alike): median and 90th percentile.
3. Opening the 10,000-span trace in the real app (Textual's headless driver, 120x40): from the
   keypress to the end of the first frame that shows the waterfall, and the cost of drawing a
   frame of it while scrolling. The parts are timed too: the query, building the tree and the
   critical path.

    .venv/bin/python bench/waterfall.py                      # build (once, ~3 min) and measure
    .venv/bin/python bench/waterfall.py --db /tmp/traces-1m.duckdb --repeat 30 --json out.json

Run it on a quiet machine: it waits (up to ``--max-wait``) until other work keeps fewer than
``--max-busy`` cores busy, and reports the load it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bigdb import BIG_SPANS, BIG_TRACE, DEFAULT_PATH, build
from quiet import busy_cores, wait_for_quiet
from textual.worker import WorkerCancelled

from otelwatch.store import database
from otelwatch.store.reader import Reader

# ---------------------------------------------------------------------------- measuring


def timings(cases: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, float]]:
    """Each case run ``repeat`` times, round-robin, after one warm-up run: ms."""
    for run in cases.values():
        run()
    spent: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, run in cases.items():
            t0 = time.perf_counter()
            run()
            spent[name].append((time.perf_counter() - t0) * 1000)
    return {
        name: {
            "median_ms": statistics.median(values),
            "p90_ms": sorted(values)[int(len(values) * 0.9) - 1] if len(values) > 1 else values[0],
            "min_ms": min(values),
        }
        for name, values in spent.items()
    }


def query_cases(reader: Reader) -> dict[str, Callable[[], Any]]:
    """The Traces view's queries, with arguments taken from the data."""
    rows = reader.traces()
    typical = next(r for r in rows if r.has_root and 10 <= r.spans <= 200)
    session = typical.session_id
    detail_span = reader.trace(typical.trace_id).spans[1].span_id  # type: ignore[union-attr]
    return {
        "trace list (500 newest)": reader.traces,
        "trace list by duration": lambda: reader.traces(sort="duration"),
        "trace list of one session": lambda: reader.traces(session_id=session),
        "trace list filtered ('bash')": lambda: reader.traces(text="bash"),
        f"one trace by id ({typical.spans} spans)": lambda: reader.trace(typical.trace_id),
        "trace id from a prefix": lambda: reader.trace_ids(typical.trace_id[:8]),
        "search in a trace": lambda: reader.trace_search(typical.trace_id, "claude"),
        "span detail": lambda: reader.span_detail(typical.trace_id, detail_span),
        f"one trace by id ({BIG_SPANS:,} spans)": lambda: reader.trace(BIG_TRACE),
    }


def waterfall_open(reader: Reader, repeat: int) -> dict[str, Any]:
    """Open the 10,000-span trace in the real app: keypress to first frame, and frames."""
    from otelwatch.tui.app import OtelwatchApp
    from otelwatch.tui.header import AppInfo
    from otelwatch.tui.trace_model import build_model
    from otelwatch.tui.views.traces import TracesView
    from otelwatch.tui.waterfall import Waterfall

    trace = reader.trace(BIG_TRACE)
    assert trace is not None
    assert len(trace.spans) == BIG_SPANS
    parts = timings(
        {
            "query": lambda: reader.trace(BIG_TRACE),
            "tree and critical path": lambda: build_model(trace),
        },
        repeat,
    )
    opens: list[float] = []
    frames: list[float] = []

    async def once() -> None:
        app = OtelwatchApp(reader, AppInfo(db_label="bench", read_only=True), start_view="3")
        async with app.run_test(size=(120, 40)) as pilot:
            for worker in list(app.workers):
                # A load superseded by a newer one is cancelled: not a failure.
                with contextlib.suppress(WorkerCancelled):
                    await worker.wait()
            await pilot.pause()
            view = app.query_one(TracesView)
            waterfall = app.query_one(Waterfall)
            painted: list[float] = []
            shown = asyncio.Event()
            draw = waterfall.render_line

            def timed(y: int) -> Any:
                strip = draw(y)
                if waterfall.model is not None:
                    painted.append(time.perf_counter())
                    if len(painted) >= waterfall.size.height:
                        shown.set()
                return strip

            waterfall.render_line = timed  # type: ignore[method-assign]
            t0 = time.perf_counter()
            view.open_trace(BIG_TRACE)
            # Waiting on an event, not polling: a polling loop would take the interpreter from
            # the worker thread that runs the query.
            await shown.wait()
            opens.append((painted[-1] - t0) * 1000)
            waterfall.render_line = draw  # type: ignore[method-assign]
            assert waterfall.row_count == BIG_SPANS
            # A frame while scrolling: every line of the widget, one page further each time.
            for _ in range(20):
                waterfall.action_page_down()
                t1 = time.perf_counter()
                for y in range(waterfall.size.height):
                    waterfall.render_line(y)
                frames.append((time.perf_counter() - t1) * 1000)
            await pilot.press("end")
            assert waterfall.cursor_row == BIG_SPANS - 1

    for _ in range(max(3, repeat // 5)):
        asyncio.run(once())
    return {
        "open_ms": {
            "median_ms": statistics.median(opens),
            "max_ms": max(opens),
            "runs": len(opens),
        },
        "frame_ms": {"median_ms": statistics.median(frames), "max_ms": max(frames)},
        "parts": parts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--seed-spans", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--max-busy", type=float, default=0.5)
    parser.add_argument("--max-wait", type=float, default=300.0)
    args = parser.parse_args(argv)

    if args.rebuild and args.db.exists():
        args.db.unlink()
    if not args.db.exists():
        build(args.db, args.seed_spans, args.copies)
    conn = database.connect(args.db, read_only=True)
    reader = Reader(conn)
    counts = reader.table_counts()
    load = wait_for_quiet(args.max_busy, args.max_wait)
    opened = waterfall_open(reader, args.repeat)
    load_queries = wait_for_quiet(args.max_busy, args.max_wait)
    queries = timings(query_cases(reader), args.repeat)
    after = busy_cores(1.0)
    result = {
        "spans": counts.spans,
        "log_events": counts.log_events,
        "busy_cores_before": round(load, 2),
        "busy_cores_before_queries": round(load_queries, 2),
        "busy_cores_after": round(after, 2),
        "queries": queries,
        "waterfall": opened,
    }
    print(
        f"{counts.spans:,} spans, {counts.log_events:,} events; busy cores before: "
        f"{load:.2f} (waterfall), {load_queries:.2f} (queries), after: {after:.2f}"
    )
    print("| query | median | p90 |\n| --- | ---: | ---: |")
    for name, t in queries.items():
        print(f"| {name} | {t['median_ms']:.1f} ms | {t['p90_ms']:.1f} ms |")
    w = opened
    print(
        f"| open the {BIG_SPANS:,}-span waterfall (keypress to first frame) | "
        f"{w['open_ms']['median_ms']:.0f} ms | max {w['open_ms']['max_ms']:.0f} ms |"
    )
    for name, t in w["parts"].items():
        print(f"| … of which {name} | {t['median_ms']:.1f} ms | {t['p90_ms']:.1f} ms |")
    print(
        f"| draw one 40-line frame while scrolling | {w['frame_ms']['median_ms']:.2f} ms | "
        f"max {w['frame_ms']['max_ms']:.2f} ms |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
