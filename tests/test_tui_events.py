"""The Events view, driven with Pilot on a real store."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from textual.widgets import DataTable
from tui_harness import RECORDED_NOW_NS, recorded_store, store_with

from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.event_detail import EventDetailScreen
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.events import EventsView


def _app(reader: object) -> OtelwatchApp:
    return OtelwatchApp(
        reader,  # type: ignore[arg-type]
        AppInfo(db_label="test.duckdb"),
        clock=lambda: RECORDED_NOW_NS,
        start_view="4",
    )


def _column(table: DataTable[object], index: int) -> list[str]:
    return [str(table.get_row_at(r)[index]) for r in range(table.row_count)]


async def test_events_newest_first_with_key_fields(tmp_path: Path) -> None:
    app = _app(recorded_store(tmp_path / "e.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(EventsView).query_one(DataTable)
        assert table.row_count == 11
        events = _column(table, 2)
        assert events[-1] == "managed_settings_resolved"
        assert events.count("api_request") == 2
        api = events.index("api_request")
        row = [str(c) for c in table.get_row_at(api)]
        assert row[3] == "claude-opus-5-5"
        assert row[5].startswith("$0.0")
        tool = events.index("tool_result")
        assert [str(c) for c in table.get_row_at(tool)][3:7] == ["Bash", "201 ms", "", "✓"]


async def test_filter_narrows_and_escape_restores(tmp_path: Path) -> None:
    app = _app(recorded_store(tmp_path / "f.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("slash", *"bash", "enter")
        await pilot.pause(0.4)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(EventsView).query_one(DataTable)
        assert sorted(_column(table, 2)) == ["tool_decision", "tool_result"]
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 11


async def test_enter_shows_every_attribute(tmp_path: Path) -> None:
    app = _app(recorded_store(tmp_path / "d.duckdb"))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(EventsView).query_one(DataTable)
        table.move_cursor(row=_column(table, 2).index("tool_result"))
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, EventDetailScreen)
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        fields = _column(app.screen.query_one(DataTable), 0)
        for key in ("tool_use_id", "tool_parameters", "success", "resource: service.name"):
            assert key in fields
        await pilot.press("escape")
        assert not isinstance(app.screen, EventDetailScreen)


async def test_telemetry_text_is_never_markup_or_escape_codes(tmp_path: Path) -> None:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=1)
    record.body.string_value = "claude_code.user_prompt"
    hostile = "[bold red]boom[/] \x1b[31mred\x1b[0m \x07"
    for key, value in [("event.name", "user_prompt"), ("prompt", hostile), ("session.id", "[u]s")]:
        record.attributes.add(key=key).value.string_value = value
    reader = store_with(tmp_path / "h.duckdb", [("logs", "protobuf", request.SerializeToString())])
    app = _app(reader)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(EventsView).query_one(DataTable)
        cells = list(table.get_row_at(0))
        detail = cells[7]
        assert "[bold red]boom[/]" in detail.plain
        assert "\x1b" not in detail.plain
        assert "␛[31m" in detail.plain
        assert not detail.spans  # no style came from the text
        assert cells[1].plain == "[u]s"
        svg = app.export_screenshot()
        assert "[bold red]boom[/]" in svg.replace("&#160;", " ")
    assert json.loads(json.dumps(hostile)) == hostile
