"""Make ``screenshots/``: an SVG of every view, from simulated data at a fixed clock.

    .venv/bin/python scripts/screenshots.py            # SVGs at 120x40
    .venv/bin/python scripts/screenshots.py --png      # and PNGs (needs rsvg-convert or cairosvg)
    .venv/bin/python scripts/screenshots.py --size 80x24 --only overview

The database comes from the simulator (fixed seed and start time) through the real decoders and
writer; the app runs headless under Pilot with a fixed clock and the UTC time zone, so the same
code gives the same pictures. To add a view, add one line to ``SHOTS``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from otelwatch.sample_data import simulated_database
from otelwatch.simulator import DEFAULT_START_NS
from otelwatch.store import database
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"

SEED = 7
SESSIONS = 4
SIM_SECONDS = 900.0
NOW_NS = DEFAULT_START_NS + int((SIM_SECONDS + 5) * 1e9)
GRPC, HTTP = "127.0.0.1:4317", "127.0.0.1:4318"
CONNECT_LINES = (
    "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
    "export CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1",
    "export OTEL_METRICS_EXPORTER=otlp",
    "export OTEL_LOGS_EXPORTER=otlp",
    "export OTEL_TRACES_EXPORTER=otlp",
    "export OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
    "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317",
    "export OTEL_METRIC_EXPORT_INTERVAL=5000",
    "export OTEL_LOGS_EXPORT_INTERVAL=1000",
    "export OTEL_TRACES_EXPORT_INTERVAL=1000",
)


@dataclass(frozen=True)
class Shot:
    """One picture: the keys pressed after start, on the filled or the empty database."""

    name: str
    keys: tuple[str, ...]
    empty: bool = False
    view: str = ""
    """Skip the shot when the app has no view with this key (yet)."""


SHOTS = (
    Shot("overview", ("1",)),
    Shot("sessions", ("2",)),
    Shot("overview-one-session", ("2", "down", "down", "enter")),
    Shot("traces", ("3",), view="3"),
    Shot("waterfall", ("3", "d", "enter", "j", "enter"), view="3"),  # the slowest, one span open
    Shot("events", ("4",)),
    # The newest api_request, found with the / filter, opened with Enter.
    Shot("event-detail", ("4", "slash", *"api", "underscore", *"request", "enter", "enter")),
    Shot("help", ("1", "question_mark")),
    Shot("empty", ("1",), empty=True),
)


def app_for(reader: Reader) -> OtelwatchApp:
    """The dashboard as ``otelwatch`` shows it, on ``reader``, at the fixed clock."""
    info = AppInfo(
        db_label="~/.local/share/otelwatch/otelwatch.duckdb",
        grpc_address=GRPC,
        http_address=HTTP,
        connect_lines=CONNECT_LINES,
    )
    return OtelwatchApp(reader, info, clock=lambda: NOW_NS)


async def settle(app: OtelwatchApp, pilot: object) -> None:
    """Wait until every query has been shown (workers of the app and of its screens)."""
    for _ in range(3):
        await pilot.pause()  # type: ignore[attr-defined]
        await app.workers.wait_for_complete()
        await app.screen.workers.wait_for_complete()
    await pilot.pause(0.2)  # type: ignore[attr-defined]


async def take(shot: Shot, reader: Reader, size: tuple[int, int]) -> str | None:
    """The SVG of one shot, or ``None`` when its view does not exist."""
    app = app_for(reader)
    async with app.run_test(size=size) as pilot:
        if shot.view and shot.view not in app._views:
            return None
        await settle(app, pilot)
        for key in shot.keys:
            await pilot.press(key)
            await settle(app, pilot)
        return app.export_screenshot(title=f"otelwatch · {shot.name}")


def to_png(svg: Path) -> Path | None:
    """A PNG beside ``svg``, with rsvg-convert (Debian's librsvg2-bin) or cairosvg (PyPI).

    Textual writes spaces as no-break spaces inside fixed-width text runs; SVG renderers
    squeeze those, so the copy given to the renderer has plain spaces and keeps them.
    """
    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8").replace("&#160;", " ")
    text = text.replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", encoding="utf-8", delete=False) as tmp:
        tmp.write(text)
    try:
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", "-o", str(png), tmp.name], check=True)  # noqa: S607
            return png
        try:
            import cairosvg  # type: ignore[import-not-found]  # noqa: PLC0415 (optional)
        except ImportError:
            return None
        cairosvg.svg2png(url=tmp.name, write_to=str(png))
        return png
    finally:
        Path(tmp.name).unlink()


async def main_async(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.size.split("x"))
    suffix = "" if (width, height) == (120, 40) else f"-{width}x{height}"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="otelwatch-shots-") as tmp:
        full = simulated_database(
            Path(tmp) / "demo.duckdb", SIM_SECONDS, seed=SEED, sessions=SESSIONS
        )
        readers = {
            False: Reader(database.connect(full)),
            True: Reader(database.connect(Path(tmp) / "empty.duckdb")),
        }
        for shot in SHOTS:
            if args.only and shot.name not in args.only:
                continue
            svg = await take(shot, readers[shot.empty], (width, height))
            if svg is None:
                print(f"skipped  {shot.name} (no view {shot.view})")
                continue
            path = args.out / f"{shot.name}{suffix}.svg"
            path.write_text(svg, encoding="utf-8")
            png = to_png(path) if args.png else None
            print(
                f"wrote    {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                + (f" and {png.name}" if png else "")
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="120x40", help="terminal size, WIDTHxHEIGHT")
    parser.add_argument("--png", action="store_true", help="also write PNGs")
    parser.add_argument("--only", nargs="*", default=[], help="names of the shots to take")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write")
    args = parser.parse_args()
    # Times on screen are local times: fix the zone so the pictures do not depend on the machine.
    os.environ["TZ"] = "UTC"
    time.tzset()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
