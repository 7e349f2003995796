"""The Overview view (key 1), driven with Pilot on real stores; and its drawing helpers."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_data import (
    CONNECT_LINES,
    NOW_NS,
    S,
    empty_reader,
    make_app,
    screen_text,
    settle,
    simulated_reader,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from rich.text import Text
from tui_harness import store_with

from otelwatch.store.queries.overview import CostSeries
from otelwatch.tui import format as fmt
from otelwatch.tui.header import AppInfo
from otelwatch.tui.messages import SessionChosen
from otelwatch.tui.views.overview import EmptyState, OverviewView
from otelwatch.tui.views.overview_panels import (
    CostPanel,
    ToolsPanel,
    active_time,
    burn_rates,
    source_label,
    span_label,
)
from otelwatch.tui.widgets.panel import Column, fitted
from otelwatch.tui.widgets.spark import meter, resample, spark_rows


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Clock times on screen are local: pin the zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


async def test_overview_is_the_start_view_with_every_panel(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "o.duckdb")
    data = reader.overview(None, NOW_NS)
    app = make_app(reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_view.KEY == "1"
        text = screen_text(app)
        for title in ("Cost · all sessions", "Tokens", "Tools", "API", "Activity", "Problems"):
            assert f"─ {title} ─" in text, title
        assert fmt.money(data.usage.total.cost_usd) + " total" in text
        assert "from api_request events" in text
        for model in data.usage.by_model:
            assert model.model in text
        top_tool = data.tools[0]
        assert any(
            line.split()[:3] == [top_tool.tool_name, str(top_tool.calls), str(top_tool.failures)]
            for line in (row.strip("│ ") for row in text.splitlines())
        )
        flat = " ".join(text.replace("│", " ").split())
        assert f"requests {data.api.requests} errors {data.api.errors}" in flat
        assert f"+{data.activity.lines_added:.0f}" in text
        assert f"prompts {data.activity.prompts}" in flat
        assert not app.query_one(EmptyState).display


async def test_empty_database_says_how_to_connect(tmp_path: Path) -> None:
    app = make_app(empty_reader(tmp_path / "e.duckdb"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        empty = app.query_one(EmptyState)
        assert empty.display
        assert not app.query_one(CostPanel).display or not app.query_one("#overview-top").display
        text = screen_text(app)
        assert "No telemetry yet." in text
        for line in CONNECT_LINES:
            assert line in text
        assert "otelwatch demo" in text


async def test_empty_read_only_database_says_it_is_not_listening(tmp_path: Path) -> None:
    info = AppInfo(db_label="old.duckdb", read_only=True)
    app = make_app(empty_reader(tmp_path / "e.duckdb"), info=info)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "not listening" in text
        assert "export " not in text


async def test_session_filter_narrows_every_panel(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "o.duckdb")
    session = reader.sessions()[0]
    app = make_app(reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.post_message(SessionChosen(session.session_id))
        await settle(app, pilot)
        view = app.query_one(OverviewView)
        assert view.data is not None
        assert view.data.usage.total.cost_usd == pytest.approx(session.cost_usd)
        assert sum(t.calls for t in view.data.tools) == session.tool_calls
        text = screen_text(app)
        assert f"Cost · session {session.session_id[:8]} (a: all)" in text
        await pilot.press("a")
        await settle(app, pilot)
        assert view.data.usage.total.cost_usd > session.cost_usd
        assert "Cost · all sessions" in screen_text(app)


async def test_burn_rates_follow_the_clock_without_a_query(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "o.duckdb")
    now = [NOW_NS]
    app = make_app(reader, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.query_one(OverviewView)
        assert view.data is not None
        five, _ = burn_rates(view.data.recent, NOW_NS)
        assert five > 0
        assert f"5m {fmt.rate_per_hour(five)}" in screen_text(app)
        queries = reader.calls["overview"]
        now[0] = NOW_NS + 10 * 60 * S  # ten quiet minutes later
        await pilot.pause(1.2)  # the app's one-second tick
        await settle(app, pilot)
        text = screen_text(app)
        assert "5m $0.00/h" in text
        _, sixty = burn_rates(view.data.recent, now[0])
        assert f"1h {fmt.rate_per_hour(sixty)}" in text
        assert reader.calls["overview"] == queries


async def test_the_cost_panel_is_redrawn_only_when_a_burn_rate_on_screen_changes(
    tmp_path: Path,
) -> None:
    # A redraw every second kept an idle dashboard busy (bench/screen.py).
    app = make_app(simulated_reader(tmp_path / "o.duckdb"), clock=lambda: NOW_NS)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        panel = app.query_one(CostPanel)
        refreshed: list[object] = []
        refresh = panel.refresh

        def counting(*args: object, **kwargs: object) -> object:
            refreshed.append(args)
            return refresh(*args, **kwargs)  # type: ignore[arg-type]

        panel.refresh = counting  # type: ignore[method-assign]
        panel.set_now(NOW_NS)
        assert refreshed == []
        panel.set_now(NOW_NS + 10 * 60 * S)  # the 5-minute rate falls to $0.00/h
        assert len(refreshed) == 1
        panel.set_now(NOW_NS + 10 * 60 * S + S)
        assert len(refreshed) == 1


async def test_keys_scroll_the_overview_when_it_does_not_fit(tmp_path: Path) -> None:
    app = make_app(simulated_reader(tmp_path / "o.duckdb"))
    async with app.run_test(size=(80, 16)) as pilot:
        await settle(app, pilot)
        body = app.query_one("#overview-body")
        assert body.has_focus
        assert body.max_scroll_y > 0
        await pilot.press("j", "j")
        await pilot.pause()
        assert body.scroll_y > 0
        await pilot.press("k", "k")
        await pilot.pause()
        assert body.scroll_y == 0


async def test_help_key_shows_what_the_overview_counts(tmp_path: Path) -> None:
    app = make_app(simulated_reader(tmp_path / "o.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        text = screen_text(app)
        assert "Cost, tokens, tools, API health," in text
        assert "Burn rates are dollars per" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")


async def test_model_and_tool_names_are_shown_literally(tmp_path: Path) -> None:
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    hostile_model, hostile_tool = "[bold red]m[/]\x1b[31m", "[link=x]t[/link]"
    for name, attrs in [
        ("api_request", {"model": hostile_model, "cost_usd": 0.5}),
        ("tool_result", {"tool_name": hostile_tool, "success": "false", "error": "[u]boom"}),
    ]:
        record = scope.log_records.add(time_unix_nano=NOW_NS - 60 * S)
        record.body.string_value = f"claude_code.{name}"
        record.attributes.add(key="event.name").value.string_value = name
        record.attributes.add(key="session.id").value.string_value = "s1"
        for key, value in attrs.items():
            if isinstance(value, float):
                record.attributes.add(key=key).value.double_value = value
            else:
                record.attributes.add(key=key).value.string_value = value
    reader = store_with(tmp_path / "h.duckdb", [("logs", "protobuf", request.SerializeToString())])
    app = make_app(reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        text = screen_text(app)
        assert "[bold red]m[/]␛[31m" in text
        assert "[link=x]t[/link]" in text
        assert "[u]boom" in text
        assert "\x1b" not in app.export_screenshot()


# ---------------------------------------------------------------------- drawing helpers


def test_spark_rows_scale_to_the_largest_value_and_show_every_nonzero_value() -> None:
    assert spark_rows([0, 1, 2, 4], 4, 1) == [" ▂▄█"]
    assert spark_rows([0, 0.001, 100], 3, 1) == [" ▁█"]
    assert spark_rows([1, 2], 4, 2) == ["  ██", "████"]
    assert spark_rows([], 3, 1) == ["   "]
    assert spark_rows([0, 0], 2, 2) == ["  ", "  "]


def test_resample_keeps_spikes_when_squeezing() -> None:
    assert resample([1, 9, 1, 1, 1, 1], 3) == [9.0, 1.0, 1.0]
    assert resample([1, 2], 4) == [1.0, 1.0, 2.0, 2.0]
    assert resample([3], 0) == []


def test_meter_fills_in_eighths() -> None:
    assert meter(0.5, 4) == ("██", "  ")
    assert meter(1 / 16, 2) == ("▏", " ")
    assert meter(1.5, 3) == ("███", "")
    assert meter(None, 3) == ("", "   ")
    assert meter(0, 2) == ("", "  ")


def test_fitted_tables_cut_names_and_drop_optional_columns_never_numbers() -> None:
    columns = [Column("tool", "left", flex=True), Column("calls"), Column("extra", drop=1)]
    rows = [[Text("mcp__github__search_issues"), Text("12,345"), Text("xxxxx")]]

    def widths(width: int) -> list[int | None]:
        return [c.width for c in fitted(columns, rows, width).columns]

    assert widths(80) == [26, 6, 5]
    assert widths(30) == [17, 6, 5]  # the name gives way to its minimum first
    assert widths(22) == [15, 6]  # then the optional column goes, and the name grows back
    assert widths(12) == [5, 6]  # numbers are never cut


def test_burn_rates_and_labels() -> None:
    recent = CostSeries(start_ns=0, bucket_ns=10 * S, values=(1.0,) * 360)
    five, sixty = burn_rates(recent, 3600 * S)
    assert five == pytest.approx(30 * 12)  # $30 in 5 minutes is $360/h
    assert sixty == pytest.approx(360)
    assert span_label(45) == "45s"
    assert span_label(900) == "15m"
    assert span_label(9000) == "2.5h"
    assert span_label(86400) == "24h"
    assert active_time(0) == "0s"
    assert active_time(2.72) == "2.72 s"
    assert active_time(868) == "14m 28s"


def test_source_label_names_the_source_of_the_figures() -> None:
    from otelwatch.store.queries.overview import Usage, UsageSource

    def usage(events: int, metrics: int) -> Usage:
        return Usage(by_model=(), source=UsageSource(events, metrics), first_ns=0, last_ns=0)

    assert source_label(usage(2, 0)) == "from api_request events"
    assert source_label(usage(0, 1)) == "from claude_code.cost.usage"
    assert source_label(usage(3, 1)) == "api_request events (3) + cost.usage metric (1)"


async def test_tools_panel_fits_80_columns(tmp_path: Path) -> None:
    app = make_app(simulated_reader(tmp_path / "o.duckdb"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        panel = app.query_one(ToolsPanel)
        text = screen_text(app)
        assert re.search(r"│ tool +calls fail +ok +p50 +p95 ", text)
        # Every panel is on screen, nothing needs scrolling.
        assert app.query_one("#overview-body").max_scroll_y == 0
        assert panel.region.right <= 80
