"""Test helpers for the Overview and Sessions: simulated data, an app on it, waiting for it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otelwatch.sample_data import simulated_database
from otelwatch.simulator import DEFAULT_START_NS
from otelwatch.store import database
from otelwatch.store.queries.overview import Overview
from otelwatch.store.queries.sessions import SessionRow
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo

SEED = 7
SESSIONS = 3
SIM_SECONDS = 300.0
S = 1_000_000_000
# Five seconds after the last simulated export: some sessions are live, some idle.
NOW_NS = DEFAULT_START_NS + int(SIM_SECONDS * S) + 5 * S

# The width of one cell in Textual's SVG screenshots.
CELL_WIDTH = 12.2

CONNECT_LINES = (
    "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
    "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317",
)


class CountingReader(Reader):
    """The real Reader, counting the Overview and Sessions queries it answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: dict[str, int] = {"overview": 0, "sessions": 0}

    def overview(self, *args: Any, **kwargs: Any) -> Overview:
        self.calls["overview"] += 1
        return super().overview(*args, **kwargs)

    def sessions(self, *args: Any, **kwargs: Any) -> list[SessionRow]:
        self.calls["sessions"] += 1
        return super().sessions(*args, **kwargs)


def simulated_reader(path: Path, seconds: float = SIM_SECONDS) -> CountingReader:
    """A database of ``seconds`` of simulated Claude Code sessions (fixed seed), and a reader."""
    simulated_database(path, seconds, seed=SEED, sessions=SESSIONS)
    return CountingReader(database.connect(path))


def empty_reader(path: Path) -> CountingReader:
    """A reader on a new, empty database."""
    return CountingReader(database.connect(path))


def make_app(
    reader: Reader,
    *,
    clock: Callable[[], int] = lambda: NOW_NS,
    start_view: str | None = None,
    info: AppInfo | None = None,
    **kwargs: Any,
) -> OtelwatchApp:
    """The dashboard on ``reader`` at a fixed clock."""
    return OtelwatchApp(
        reader,
        info
        or AppInfo(
            db_label="test.duckdb",
            grpc_address="127.0.0.1:4317",
            http_address="127.0.0.1:4318",
            connect_lines=CONNECT_LINES,
        ),
        clock=clock,
        start_view=start_view,
        **kwargs,
    )


async def settle(app: OtelwatchApp, pilot: Any) -> None:
    """Wait until every load has been shown."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await app.screen.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: OtelwatchApp) -> str:
    """What the terminal shows, as plain text, one line per row (from the SVG screenshot)."""
    svg = app.export_screenshot()
    rows: dict[float, dict[int, str]] = {}
    pattern = r'<text class="terminal-[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>'
    for x, y, text in re.findall(pattern, svg):
        row = rows.setdefault(float(y), {})
        column = round(float(x) / CELL_WIDTH)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            row[column + offset] = char
    return "\n".join(
        "".join(row.get(c, " ") for c in range(max(row) + 1)).rstrip() if row else ""
        for _, row in sorted(rows.items())
    )
