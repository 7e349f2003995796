"""The Sessions view (key 2), driven with Pilot on a real store of simulated sessions."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_data import NOW_NS, S, make_app, screen_text, settle, simulated_reader
from textual.widgets import DataTable

from otelwatch.tui import format as fmt
from otelwatch.tui.header import StatusHeader
from otelwatch.tui.views.events import EventsView
from otelwatch.tui.views.overview import OverviewView
from otelwatch.tui.views.sessions import ALL, LIVE_WITHIN_NS, SessionsView, is_live, started


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


def _cells(table: DataTable[object], row: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(row)]


async def test_one_row_per_session_after_the_all_sessions_row(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "s.duckdb")
    sessions = reader.sessions()
    app = make_app(reader, start_view="2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(SessionsView).query_one(DataTable)
        assert table.row_count == len(sessions) + 1
        first = _cells(table, 0)
        assert first[1] == "all"
        assert first[5] == fmt.money(sum(s.cost_usd for s in sessions))
        assert first[8] == fmt.count(sum(s.tool_calls for s in sessions))
        for index, session in enumerate(sessions, start=1):
            row = _cells(table, index)
            assert row[1] == session.session_id[:8]
            assert row[3] == fmt.age(session.last_ns, NOW_NS)
            assert row[4] == ("● live" if is_live(session.last_ns, NOW_NS) else "idle")
            assert row[5] == fmt.money(session.cost_usd)
            assert row[6] == fmt.compact(session.tokens)
            assert row[7:10] == [str(session.prompts), str(session.tool_calls), str(session.errors)]
            assert row[10] == ", ".join(session.models)
        # Most recently seen first.
        assert [s.last_ns for s in sessions] == sorted((s.last_ns for s in sessions), reverse=True)
        assert f"{len(sessions)} sessions" in screen_text(app)


async def test_enter_filters_every_view_and_the_all_row_goes_back(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "s.duckdb")
    chosen = reader.sessions()[1]
    app = make_app(reader, start_view="2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        assert app.session_id == chosen.session_id
        assert app.current_view.KEY == "1"  # Enter drills into the session's Overview
        assert app.query_one(StatusHeader).session == chosen.session_id
        overview = app.query_one(OverviewView).data
        assert overview is not None
        assert overview.usage.total.cost_usd == pytest.approx(chosen.cost_usd)

        await pilot.press("4")
        await settle(app, pilot)
        events = app.query_one(EventsView).query_one(DataTable)
        assert events.row_count > 0
        assert {str(events.get_row_at(r)[1]) for r in range(events.row_count)} == {
            chosen.session_id[:8]
        }

        await pilot.press("2")
        await settle(app, pilot)
        table = app.query_one(SessionsView).query_one(DataTable)
        marks = [_cells(table, r)[0] for r in range(table.row_count)]
        assert marks[2] == "▶" and marks.count("▶") == 1
        assert table.cursor_row == 2

        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.session_id is None
        assert app.current_view.KEY == "1"


async def test_a_key_shows_all_sessions_again(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "s.duckdb")
    app = make_app(reader, start_view="2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert app.session_id is not None
        await pilot.press("2", "a")
        await settle(app, pilot)
        assert app.session_id is None
        table = app.query_one(SessionsView).query_one(DataTable)
        assert _cells(table, 0)[0] == "▶"


async def test_last_seen_and_live_follow_the_clock_without_a_query(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "s.duckdb")
    now = [NOW_NS]
    app = make_app(reader, start_view="2", clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(SessionsView).query_one(DataTable)
        assert "live" in _cells(table, 1)[4]
        queries = reader.calls["sessions"]
        now[0] = NOW_NS + LIVE_WITHIN_NS + 3600 * S
        await pilot.pause(1.2)
        await settle(app, pilot)
        row = _cells(table, 1)
        assert row[4] == "idle"
        assert row[3] == "1h ago"
        assert _cells(table, 0)[4] == "idle"
        assert reader.calls["sessions"] == queries


async def test_a_tick_rewrites_only_the_cells_whose_text_changed(tmp_path: Path) -> None:
    # Rewriting every cell each second kept an idle dashboard busy (bench/screen.py).
    reader = simulated_reader(tmp_path / "s.duckdb")
    now = [NOW_NS]
    app = make_app(reader, start_view="2", clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one(SessionsView)
        table = view.query_one(DataTable)
        updated: list[tuple[object, object]] = []
        update_cell = table.update_cell

        def counting(row: object, column: object, value: object, **kw: object) -> None:
            updated.append((row, column))
            update_cell(row, column, value, **kw)  # type: ignore[arg-type]

        table.update_cell = counting  # type: ignore[method-assign]
        view.tick(NOW_NS)
        assert updated == []
        now[0] = NOW_NS + LIVE_WITHIN_NS + 3600 * S
        view.tick(now[0])
        # Every session's age changed; the totals row's age and state too.
        rows = table.row_count
        assert {r for r, _ in updated} == set(view._keys)
        assert len(updated) >= rows
        assert _cells(table, 0)[3] == "1h ago"
        updated.clear()
        view.tick(now[0] + S)
        assert updated == []


async def test_slash_filters_sessions(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "s.duckdb")
    target = reader.sessions()[-1].session_id
    app = make_app(reader, start_view="2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *target[:6], "enter")
        await pilot.pause(0.4)
        await settle(app, pilot)
        table = app.query_one(SessionsView).query_one(DataTable)
        assert table.row_count == 2
        assert _cells(table, 1)[1] == target[:8]
        await pilot.press("escape")
        await settle(app, pilot)
        assert table.row_count == len(reader.sessions()) + 1


async def test_sessions_fit_80_columns_with_the_numbers_visible(tmp_path: Path) -> None:
    app = make_app(simulated_reader(tmp_path / "s.duckdb"), start_view="2")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        (header,) = [line for line in screen_text(app).splitlines() if "last seen" in line]
        for column in ("session", "started", "last seen", "state", "cost", "tokens", "errors"):
            assert column in header


def test_live_and_start_formatting() -> None:
    assert is_live(NOW_NS - LIVE_WITHIN_NS, NOW_NS)
    assert not is_live(NOW_NS - LIVE_WITHIN_NS - 1, NOW_NS)
    assert started(NOW_NS - 60 * S, NOW_NS) == fmt.clock(NOW_NS - 60 * S)
    assert started(NOW_NS - 3 * 86400 * S, NOW_NS) == fmt.date_time(NOW_NS - 3 * 86400 * S)[5:]
    assert ALL == "all"
