"""The Traces view and the waterfall, driven with Pilot on real stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable
from trace_builders import (
    LiveStore,
    SpanSpec,
    big_trace,
    events_request,
    hex_id,
    settle,
    spans_request,
    turn,
    turn_events,
)
from tui_harness import RECORDED_NOW_NS, recorded_store

from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.feed import CommitFeed
from otelwatch.tui.header import AppInfo
from otelwatch.tui.span_detail import SpanDetailPane
from otelwatch.tui.text_screen import TextScreen
from otelwatch.tui.trace_explorer import TraceExplorer
from otelwatch.tui.trace_summary import TraceSummary
from otelwatch.tui.views.traces import TracesView, TraceTable
from otelwatch.tui.waterfall import Waterfall

RECORDED_TRACE = "9adab7ba98763ad5d2e3a59faf164050"


def make_app(reader: Reader, feed: CommitFeed | None = None) -> OtelwatchApp:
    return OtelwatchApp(
        reader,
        AppInfo(db_label="test.duckdb"),
        feed=feed,
        clock=lambda: RECORDED_NOW_NS,
        start_view="3",
    )


def cells(table: DataTable[object], row: int) -> list[str]:
    """A row's cells as text (numbers are padded to line up on the right)."""
    return [str(c).strip() for c in table.get_row_at(row)]


def column(table: DataTable[object], index: int) -> list[str]:
    return [str(table.get_row_at(r)[index]).strip() for r in range(table.row_count)]


def waterfall(app: OtelwatchApp) -> Waterfall:
    return app.query_one(Waterfall)


def names(app: OtelwatchApp) -> list[str]:
    w = waterfall(app)
    assert w.model is not None
    labels = {s.span_id: label for s, label in zip(w.model.tree.spans, w.model.labels, strict=True)}
    return [labels[i] for i in w.visible_span_ids()]


def cursor_name(app: OtelwatchApp) -> str:
    w = waterfall(app)
    assert w.model is not None and w.position is not None
    return w.model.labels[w.position]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LiveStore]:
    live = LiveStore(tmp_path / "t.duckdb")
    yield live
    live.close()


async def test_the_list_shows_the_recorded_trace(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(TraceTable)
        assert table.row_count == 1
        row = cells(table, 0)
        assert row[1:3] == ["1.97 s", "interaction"]
        assert row[3:7] == ["6", "·", "$0.08", "25.2k"]
        assert row[7:] == ["", "611ea787"]
        assert str(table.get_row_at(0)[3]) == "    6"  # numbers line up on the right


async def test_sort_keys_reorder_and_say_so(store: LiveStore) -> None:
    slow = turn(1)
    slow[0].end_ms = 9000
    cheap = turn(2, start_ms=10_000, base=10)
    for spec in cheap:
        spec.error = None
    store.send("traces", spans_request(slow + cheap))
    store.send(
        "logs", events_request(turn_events(2, prompt="add a flag", start_ms=10_000, base=10))
    )
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(TraceTable)
        assert column(table, 7) == ["add a flag", ""]  # newest first
        assert str(table.ordered_columns[0].label) == "start ▼"
        await pilot.press("d")
        await settle(app, pilot)
        assert column(table, 1) == ["9.00 s", "2.00 s"]
        assert str(table.ordered_columns[1].label) == "took ▼"
        await pilot.press("d")
        await settle(app, pilot)
        assert column(table, 1) == ["2.00 s", "9.00 s"]
        assert str(table.ordered_columns[1].label) == "took ▲"
        await pilot.press("e")
        await settle(app, pilot)
        assert column(table, 4) == ["1", "·"]
        await pilot.press("c")
        await settle(app, pilot)
        assert column(table, 5) == ["$0.75", ""]
        status = app.query_one("#trace-list #filter-status")
        assert "by cost ▼" in str(status.render())


async def test_filter_narrows_and_escape_restores(store: LiveStore) -> None:
    store.send("traces", spans_request(turn(1)))
    other = turn(2, start_ms=5000, base=10)
    other[2].attrs["tool_name"] = "WebFetch"
    store.send("traces", spans_request(other))
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.query_one(TraceTable)
        assert table.row_count == 2
        await pilot.press("slash", *"webfetch", "enter")
        await settle(app, pilot, 0.4)
        assert table.row_count == 1
        await pilot.press("escape")
        await settle(app, pilot)
        assert table.row_count == 2


async def test_a_trace_without_its_root_is_marked_and_grows(tmp_path: Path) -> None:
    feed = CommitFeed()
    live = LiveStore(tmp_path / "g.duckdb", on_commit=lambda c: feed.notify(c.tables, c.items))
    try:
        spans = turn(1)
        live.send("traces", spans_request(spans[1:3]))
        app = make_app(live.reader, feed)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            table = app.query_one(TraceTable)
            row = cells(table, 0)
            assert row[2] == "⋯ llm_request"
            assert row[3] == "2"
            status = str(app.query_one("#trace-list #filter-status").render())
            assert "⋯ 1 without root yet" in status
            # Open it while it is incomplete: the waterfall grows with the trace.
            await pilot.press("enter")
            await settle(app, pilot)
            assert waterfall(app).row_count == 2
            assert waterfall(app).model is not None
            assert not waterfall(app).model.has_root  # type: ignore[union-attr]
            live.send("traces", spans_request(spans[3:]))
            await settle(app, pilot, 0.5)
            assert waterfall(app).row_count == 5
            live.send("traces", spans_request(spans[:1]))
            await settle(app, pilot, 0.5)
            assert waterfall(app).row_count == 6
            assert names(app)[0] == "interaction"
            await pilot.press("escape")
            await settle(app, pilot, 0.5)
            assert cells(table, 0)[2] == "interaction"
            assert cells(table, 0)[3] == "6"
    finally:
        live.close()


async def test_waterfall_navigation_and_folding(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        assert w.has_focus
        assert names(app) == [
            "interaction",
            "llm_request",
            "tool",
            "tool.blocked_on_user",
            "tool.execution",
            "llm_request",
        ]
        assert cursor_name(app) == "interaction"
        await pilot.press("j", "down")
        assert cursor_name(app) == "tool"
        await pilot.press("h")  # fold the tool
        assert names(app) == ["interaction", "llm_request", "tool", "llm_request"]
        await pilot.press("h")  # already folded: to the parent
        assert cursor_name(app) == "interaction"
        await pilot.press("left")
        assert names(app) == ["interaction"]
        await pilot.press("l")
        assert len(names(app)) == 4  # the tool stays folded
        await pilot.press("l")  # unfolded: to the first child
        assert cursor_name(app) == "llm_request"
        await pilot.press("j", "right")
        assert len(names(app)) == 6
        await pilot.press("end")
        assert w.cursor_row == 5
        await pilot.press("k", "up", "home")
        assert w.cursor_row == 0
        await pilot.press("G")
        assert w.cursor_row == 5
        await pilot.press("g")
        assert w.cursor_row == 0
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.query_one(TraceTable).has_focus


async def test_search_with_n_and_shift_n(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        await pilot.press("slash", *"attempt", "enter")  # a span event of both model calls
        await settle(app, pilot, 0.4)
        assert w.matches == 2
        assert w.has_focus
        assert (w.cursor_row, w.match_number) == (1, 1)
        status = app.query_one("#trace-explorer #filter-status")
        assert "match 1 of 2" in str(status.render())
        await pilot.press("n")
        assert (w.cursor_row, w.match_number) == (5, 2)
        await pilot.press("n")  # wraps
        assert w.cursor_row == 1
        await pilot.press("N")  # and back
        assert w.cursor_row == 5
        # A match inside a folded span unfolds it.
        await pilot.press("home", "l", "j", "j", "h", "slash")
        await pilot.press(*"execution", "enter")
        await settle(app, pilot, 0.4)
        assert cursor_name(app) == "tool.execution"
        assert len(names(app)) == 6
        await pilot.press("slash", "escape")
        await settle(app, pilot, 0.4)
        assert w.matches == 0


async def test_detail_pane_follows_the_cursor(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("j", "j", "enter")  # the Bash tool span
        await settle(app, pilot)
        explorer = app.query_one(TraceExplorer)
        pane = app.query_one(SpanDetailPane)
        assert explorer.detail_open
        assert pane.display
        fields = column(pane.query_one(DataTable), 0)
        values = dict(zip(fields, column(pane.query_one(DataTable), 1), strict=True))
        assert values["name"] == "claude_code.tool"
        assert values["status"] == "unset"
        assert values["duration"].startswith("284 ms")
        assert values["tool_name"] == "Bash"
        for title in ("attributes (18)", "log events (2)", "resource (5)"):
            assert title in fields
        assert any(f.endswith("tool_result") for f in fields)
        assert any(f.endswith("tool_decision") for f in fields)
        # The pane follows the cursor.
        await pilot.press("k")
        await settle(app, pilot, 0.3)
        fields = column(pane.query_one(DataTable), 0)
        values = dict(zip(fields, column(pane.query_one(DataTable), 1), strict=True))
        assert values["name"] == "claude_code.llm_request"
        assert "span events (1)" in fields
        assert any(f.endswith("api_request") for f in fields)
        # Tab into the pane; Enter unfolds a long value; Esc comes back.
        pane.query_one(DataTable).focus()
        table = pane.query_one(DataTable)
        table.move_cursor(row=next(i for i, f in enumerate(fields) if f.endswith("api_request")))
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TextScreen)
        await pilot.press("escape")
        await pilot.press("escape")
        assert waterfall(app).has_focus
        assert explorer.detail_open
        await pilot.press("escape")  # closes the pane
        assert not explorer.detail_open
        await pilot.press("escape")  # back to the list
        assert app.query_one(TraceTable).has_focus


async def test_critical_path_and_where_the_time_went(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        assert w.model is not None
        ms = {kind: round(ns / 1e6) for kind, ns in w.model.path.by_category.items()}
        assert ms == {"model": 433, "tool": 202, "user": 78, "other": 1260}
        summary = app.query_one(TraceSummary)
        assert summary.size.width > 100  # laid out: the legend has room for durations
        text = str(summary.render())
        assert "model 433 ms 22%" in text
        assert "tools 202 ms 10%" in text
        assert "waiting for you 78 ms 4.0%" in text
        assert not w.show_critical
        await pilot.press("c")
        assert w.show_critical
        assert "critical path shown" in str(
            app.query_one("#trace-explorer #filter-status").render()
        )
        assert w.model is not None
        on_path = {w.model.labels[p] for p in w.model.path.positions()}
        assert on_path == {
            "interaction",
            "llm_request",
            "tool",
            "tool.blocked_on_user",
            "tool.execution",
        }
        await pilot.press("c")
        assert not w.show_critical


async def test_errors_are_drawn_in_the_error_style(store: LiveStore) -> None:
    store.send("traces", spans_request(turn(1)))
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        error_color = w.get_component_rich_style("waterfall--error").color
        bar_color = w.get_component_rich_style("waterfall--bar-error").color
        assert error_color is not None and bar_color is not None
        row = names(app).index("tool.execution")
        strip = w.render_line(row + 1)  # line 0 is the time axis
        styled = {seg.text.strip(): seg.style for seg in strip if seg.text.strip()}
        assert styled["tool.execution"].color == error_color  # type: ignore[union-attr]
        bars = [seg for seg in strip if seg.text.strip() and set(seg.text) <= set("▏▎▍▌▋▊▉█▐▕")]
        assert bars and all(seg.style.color == bar_color for seg in bars)  # type: ignore[union-attr]
        await pilot.press("e")  # jumps to the failed span
        assert cursor_name(app) == "tool.execution"


async def test_orphans_are_shown_at_the_top_and_marked(store: LiveStore) -> None:
    spans = turn(1)
    store.send("traces", spans_request([spans[0], spans[1], spans[3], spans[4]]))  # no tool span
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        assert names(app) == [
            "interaction",
            "llm_request",
            "tool.blocked_on_user",
            "tool.execution",
        ]
        assert w.model is not None
        assert w.model.orphans == 2
        text = "".join(seg.text for seg in w.render_line(3))
        assert text.lstrip().startswith("⋯ tool.blocked_on_user")
        assert "2 spans without parent" in str(app.query_one(TraceSummary).render())


async def test_a_10000_span_trace_opens_and_scrolls_to_the_end(store: LiveStore) -> None:
    store.send("traces", spans_request(big_trace(7, 10_000)))
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        w = waterfall(app)
        assert w.row_count == 10_000
        await pilot.press("end")
        await pilot.pause()
        assert w.cursor_row == 9_999
        assert w.scroll_offset.y == w.max_scroll_y
        # The last row in pre-order: the last child of the last child of … the root.
        assert w.visible_span_ids()[-1] == hex_id(1111, 8)
        # The bottom line on screen is the last span.
        bottom = "".join(seg.text for seg in w.render_line(w.scrollable_content_region.height - 1))
        assert "tool" in bottom or "llm_request" in bottom
        await pilot.press("pageup")
        assert w.cursor_row < 9_999
        await pilot.press("home", "left")  # fold the root: one row
        assert w.row_count == 1


async def test_telemetry_text_in_the_waterfall_is_never_markup(store: LiveStore) -> None:
    hostile = "[bold red]boom[/] \x1b[31mred"
    store.send(
        "traces",
        spans_request([SpanSpec(3, 1, None, hostile, 0, 10, attrs={"tool_name": "[u]x"})]),
    )
    app = make_app(store.reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "[bold red]boom[/] ␛[31mred" in cells(app.query_one(TraceTable), 0)[2]
        await pilot.press("enter")
        await settle(app, pilot)
        text = "".join(seg.text for seg in waterfall(app).render_line(1))
        assert "[bold red]boom[/] ␛[31mred" in text
        assert "[u]x" in text
        assert "\x1b" not in text


async def test_the_view_is_in_the_default_app(tmp_path: Path) -> None:
    app = OtelwatchApp(recorded_store(tmp_path / "r.duckdb"), AppInfo(db_label="x"))
    assert isinstance(app.view("3"), TracesView)


async def test_the_actions_are_in_the_command_palette(tmp_path: Path) -> None:
    app = make_app(recorded_store(tmp_path / "r.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Sort traces by duration", "Sort traces by cost", "Filter traces"} <= set(titles)
        titles["Sort traces by errors"].callback()
        await settle(app, pilot)
        assert "by errors ▼" in str(app.query_one("#trace-list #filter-status").render())
        await pilot.press("enter")
        await settle(app, pilot)
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Sort traces by duration" not in titles
        titles["Show the critical path"].callback()
        assert waterfall(app).show_critical
        titles["Back to the trace list"].callback()
        await settle(app, pilot)
        assert app.query_one(TraceTable).has_focus
