"""``otelwatch trace TRACE_ID``: finding the trace from the start of its id, and opening it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trace_builders import LiveStore, hex_id, settle, spans_request, turn
from tui_harness import RECORDED_NOW_NS, recorded_store

from otelwatch.commands.trace import resolve
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.traces import TracesView
from otelwatch.tui.waterfall import Waterfall

RECORDED_TRACE = "9adab7ba98763ad5d2e3a59faf164050"


def otelwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otelwatch", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def two_traces(tmp_path: Path) -> Path:
    path = tmp_path / "two.duckdb"
    live = LiveStore(path)
    live.send("traces", spans_request(turn(0xAB01) + turn(0xAB02, base=10)))
    live.close()
    live.conn.close()
    return path


def test_resolve_a_prefix_to_one_trace(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    assert resolve(reader, "9adab") == RECORDED_TRACE
    assert resolve(reader, " 9ADAB7BA ") == RECORDED_TRACE
    assert resolve(reader, RECORDED_TRACE) == RECORDED_TRACE
    with pytest.raises(LookupError, match="no trace id starts with 0"):
        resolve(reader, "0")
    with pytest.raises(LookupError, match="not a trace id"):
        resolve(reader, "xyz")
    with pytest.raises(LookupError, match="not a trace id"):
        resolve(reader, "a" * 33)


def test_an_ambiguous_prefix_is_one_line_and_status_2(two_traces: Path) -> None:
    done = otelwatch("trace", "0000", "--db", str(two_traces))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("otelwatch: error: 0000 starts more than one trace id")
    assert "000000000000…" in lines[0]
    assert "give more digits" in lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("trace_id", "message"),
    [
        ("ffff", "no trace id starts with ffff"),
        ("nothex", "not a trace id: 'nothex' (up to 32 hex digits)"),
    ],
)
def test_unknown_or_malformed_ids(two_traces: Path, trace_id: str, message: str) -> None:
    done = otelwatch("trace", trace_id, "--db", str(two_traces))
    assert done.returncode == 2
    assert done.stderr == f"otelwatch: error: {message}\n"


def test_no_database(tmp_path: Path) -> None:
    done = otelwatch("trace", "ab", "--db", str(tmp_path / "none.duckdb"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no database at" in done.stderr


def test_a_database_held_by_a_process_that_is_not_otelwatch(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    live = LiveStore(path)  # holds it for writing, without otelwatch's control socket
    try:
        done = otelwatch("trace", "ab", "--db", str(path))
    finally:
        live.close()
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "does not answer otelwatch's control socket" in done.stderr


async def test_the_dashboard_opens_on_the_trace(two_traces: Path) -> None:
    live = LiveStore(two_traces)
    trace_id = resolve(live.reader, hex_id(0xAB02, 16))
    app = OtelwatchApp(
        live.reader,
        AppInfo(db_label="x", read_only=True),
        clock=lambda: RECORDED_NOW_NS,
        start_view="3",
    )
    view = app.view("3")
    assert isinstance(view, TracesView)
    view.start_with_trace(trace_id)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(app, pilot)
            waterfall = app.query_one(Waterfall)
            assert waterfall.has_focus
            assert waterfall.row_count == 6
            assert view.open_trace_id == trace_id
            await pilot.press("escape")
            await pilot.pause()
            assert view.open_trace_id is None
    finally:
        live.close()
