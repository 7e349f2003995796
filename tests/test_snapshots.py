"""SVG snapshots of the Overview, Sessions, Events and the empty state, at 120x40 and 80x24.

Fixed data (the recorded Claude Code sessions of ``tests/fixtures/claude-code``, all three
transports, through the real decoders and writer), a fixed clock and the UTC time zone. The
simulator would give richer screens, but it changes as it learns more of Claude Code; the
recordings do not. After a deliberate change of the screens, look at
the new pictures and accept them with ``pytest tests/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_data import empty_reader, make_app
from otlp_clients import recorded
from tui_harness import store_with

from otelwatch.store import database
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.view import DataView
from otelwatch.tui.views.events import EventsView
from otelwatch.tui.views.overview import OverviewView
from otelwatch.tui.views.sessions import SessionsView

SIZES = [(120, 40), (80, 24)]
# Two minutes after the last recorded request, 3 minutes after the first: live and idle sessions.
NOW_NS = 1_795_472_900_000_000_000


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshots")
    requests = [
        (r.signal, "json" if transport == "http-json" else "protobuf", r.body)
        for transport in ("grpc", "http-protobuf", "http-json")
        for r in recorded(transport)
    ]
    store_with(path / "recorded.duckdb", requests)._conn.close()
    return path


def _views() -> list[DataView]:
    # The views these snapshots are about, so another view's tab does not change them.
    return [OverviewView(id="view-1"), SessionsView(id="view-2"), EventsView(id="view-4")]


def _app(reader: Reader, start_view: str) -> OtelwatchApp:
    return make_app(reader, start_view=start_view, views=_views(), clock=lambda: NOW_NS)


async def _settle(pilot: Any) -> None:
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


SnapCompare = Callable[..., bool]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", ["1", "2", "4"], ids=["overview", "sessions", "events"])
def test_view(snap_compare: SnapCompare, data_dir: Path, view: str, size: tuple[int, int]) -> None:
    reader = Reader(database.connect(data_dir / "recorded.duckdb", read_only=True))
    assert snap_compare(_app(reader, view), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_empty_state(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    reader = empty_reader(tmp_path / "empty.duckdb")
    assert snap_compare(_app(reader, "1"), terminal_size=size, run_before=_settle)
