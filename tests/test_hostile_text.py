"""Telemetry text can never inject Rich markup or terminal escape sequences into the screen.

The recorded Claude Code session goes through the real ingest path with every text value made
hostile (markup tags, ANSI escapes, a terminal-title sequence, bell, backspace, carriage return),
then every view of the real app, and the event detail screen, is rendered and its segments
checked: no control character reaches the terminal, and no style comes from the telemetry.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import recorded
from rich.console import Console
from rich.segment import Segment
from textual.widgets import DataTable
from tui_harness import RECORDED_NOW_NS, store_with

from otelwatch.tui.app import OtelwatchApp, default_views
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.events import EventsView

# Short, so that it survives column truncation: what would happen if it were obeyed is plain.
HOSTILE = "[strike][blink]\x1b[31m\x1b]0;pwned\x07\x08\r"
MARKUP = "[strike][blink]"
# Keys whose values give the telemetry its meaning (or are numbers sent as text): left alone so
# that the views show real rows, costs and sessions, in which the hostile text then appears.
KEEP = {"event.name", "span.type", "event.timestamp", "event.sequence", "decision", "success"}
MESSAGES = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}


def _poison(message: Any) -> None:
    """Prefix every text value (names, bodies, attribute values) with ``HOSTILE``, in place."""
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            items = value if field.is_repeated else [value]
            for item in items:
                if item.DESCRIPTOR.name == "KeyValue":
                    if item.key in KEEP:
                        continue
                    if item.value.WhichOneof("value") == "string_value":
                        text = item.value.string_value
                        if not text.replace(".", "").isdigit():
                            item.value.string_value = HOSTILE + text
                        continue
                _poison(item)
        elif (
            field.type == field.TYPE_STRING
            and field.name in ("name", "string_value", "body")
            and not field.is_repeated
            and value
        ):
            setattr(message, field.name, HOSTILE + value)


def _hostile_store(path: Path) -> Any:
    requests = []
    for r in recorded("grpc"):
        request = MESSAGES[r.signal]()
        request.ParseFromString(r.body)
        _poison(request)
        requests.append((r.signal, "protobuf", request.SerializeToString()))
    return store_with(path, requests)


def _segments(app: OtelwatchApp) -> list[Segment]:
    """What the screen would send to the terminal, as Rich segments."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return list(console._record_buffer)


def _check_screen(app: OtelwatchApp, where: str) -> str:
    # Control segments are Textual's own cursor moves, not text.
    segments = [s for s in _segments(app) if not s.control]
    text = "".join(s.text for s in segments)
    for segment in segments:
        bad = [ch for ch in segment.text if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) < 0xA0]
        assert not bad, f"{where}: control characters {bad!r} in {segment.text!r}"
        style = segment.style
        if style is not None:
            assert not style.strike, f"{where}: telemetry markup styled {segment.text!r}"
            assert not style.blink, f"{where}: telemetry markup styled {segment.text!r}"
            assert not style.link, f"{where}: telemetry made a link {segment.text!r}"
    svg = app.export_screenshot()
    assert "\x1b" not in svg and "\x07" not in svg
    return text


async def test_no_view_lets_telemetry_style_the_screen_or_reach_the_terminal(
    tmp_path: Path,
) -> None:
    reader = _hostile_store(tmp_path / "hostile.duckdb")
    app = OtelwatchApp(
        reader,
        AppInfo(db_label="hostile.duckdb", grpc_address="127.0.0.1:4317"),
        clock=lambda: RECORDED_NOW_NS,
    )
    shown = 0
    async with app.run_test(size=(160, 50)) as pilot:
        for view in default_views():
            await pilot.press(view.KEY)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            text = _check_screen(app, f"view {view.KEY} ({view.TITLE})")
            # The hostile text is on screen, as text: it was shown, not obeyed.
            shown += text.count(MARKUP)
            assert "␛" in text or MARKUP not in text
        assert shown, "no view showed any telemetry text: the test proves nothing"

        # Drilling into a trace (the waterfall and its span detail), where views have one.
        if any(view.KEY == "3" for view in default_views()):
            await pilot.press("3")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause(0.3)
            await app.workers.wait_for_complete()
            await app.screen.workers.wait_for_complete()
            await pilot.pause()
            shown_in_trace = _check_screen(app, "trace drill-down").count(MARKUP)
            assert shown_in_trace, "the trace drill-down showed no telemetry text"
            await pilot.press("escape")
            await pilot.pause()

        # The event detail screen shows every attribute value in full.
        await pilot.press("4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(EventsView).query_one(DataTable)
        assert table.row_count
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        detail = _check_screen(app, "event detail")
        assert MARKUP in detail
        assert "␛[31m" in detail  # the escape is visible as a symbol, not sent
