"""The dashboard as a whole: view keys, live refresh from real commits, pause, palette."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import start_runtime
from dashboard_data import CountingReader, make_app, screen_text, settle
from otlp_clients import grpc_export, recorded
from textual.widgets import ContentSwitcher
from tui_harness import RECORDED_NOW_NS

from otelwatch.runtime import Runtime
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.feed import CommitFeed
from otelwatch.tui.header import StatusHeader
from otelwatch.tui.views.overview import EmptyState, OverviewView


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Runtime, CommitFeed, CountingReader]]:
    """A runtime on real listeners, its commits fed to a CommitFeed, and a counting reader."""
    runtime = start_runtime(tmp_path / "live.duckdb")
    feed = CommitFeed()
    runtime.subscribe(lambda committed: feed.notify(committed.tables, committed.items))
    assert runtime.conn is not None
    yield runtime, feed, CountingReader(runtime.conn)
    runtime.stop()


def _send_recorded(runtime: Runtime) -> None:
    assert runtime.grpc_address is not None
    for request in recorded("grpc"):
        answer = grpc_export(runtime.grpc_address, request.signal, request.body)
        assert answer.code == grpc.StatusCode.OK


async def test_number_keys_switch_views_and_the_overview_comes_first(tmp_path: Path) -> None:
    from dashboard_data import simulated_reader

    app = make_app(simulated_reader(tmp_path / "k.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        switcher = app.query_one(ContentSwitcher)
        assert switcher.current == "view-1"
        for key in ("2", "4", "1"):
            await pilot.press(key)
            await settle(app, pilot)
            assert switcher.current == f"view-{key}"
            assert key == app.current_view.KEY
        assert "1 Overview" in screen_text(app) and "2 Sessions" in screen_text(app)


async def test_committed_data_reaches_the_overview_without_a_key(
    live: tuple[Runtime, CommitFeed, CountingReader],
) -> None:
    runtime, feed, reader = live
    app = make_app(reader, feed=feed, clock=lambda: RECORDED_NOW_NS)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.query_one(EmptyState).display  # nothing stored yet
        await asyncio.to_thread(_send_recorded, runtime)
        # Every request was acknowledged, so committed: the screen follows within a refresh.
        # The deadline is generous for a loaded machine; how fast it follows is measured in
        # bench/dashboard_latency.py, not asserted here.
        for _ in range(600):
            await pilot.pause(0.1)
            view = app.query_one(OverviewView)
            if view.data is not None and view.data.api.requests == 2 and view.data.tools:
                break
        await settle(app, pilot)
        assert not app.query_one(EmptyState).display
        text = screen_text(app)
        assert "$0.08 total" in text  # 0.0758434 USD, counted once though sent twice
        assert "Bash" in text
        await pilot.pause(1.1)  # the header's rate is sampled every second
        assert app.query_one(StatusHeader).rate > 0


async def test_nothing_is_queried_when_nothing_was_committed(
    live: tuple[Runtime, CommitFeed, CountingReader],
) -> None:
    runtime, feed, reader = live
    await asyncio.to_thread(_send_recorded, runtime)
    app = make_app(reader, feed=feed, clock=lambda: RECORDED_NOW_NS)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        # The commits made before the app started are news to it once: let that refresh run.
        await pilot.pause(0.5)
        await settle(app, pilot)
        queries = reader.calls["overview"]
        assert queries >= 1
        await pilot.pause(1.5)  # ticks run, nothing is committed
        await settle(app, pilot)
        assert reader.calls["overview"] == queries


async def test_paused_views_keep_their_data_until_resumed(
    live: tuple[Runtime, CommitFeed, CountingReader],
) -> None:
    runtime, feed, reader = live
    app = make_app(reader, feed=feed, clock=lambda: RECORDED_NOW_NS, start_view="2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        assert not app.live
        assert "paused" in screen_text(app)
        await asyncio.to_thread(_send_recorded, runtime)
        await pilot.pause(0.8)
        await settle(app, pilot)
        assert "no sessions yet" in screen_text(app)
        await pilot.press("p")
        await settle(app, pilot)
        assert "1 sessions" in screen_text(app) or "611ea787" in screen_text(app)
        assert "611ea787" in screen_text(app)


async def test_command_palette_lists_the_views_and_all_sessions(tmp_path: Path) -> None:
    from dashboard_data import empty_reader

    app: OtelwatchApp = make_app(empty_reader(tmp_path / "p.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Show Overview", "Show Sessions", "Show Events", "Show all sessions"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"show sessions")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.current_view.KEY == "2"
