"""Reading a database another otelwatch holds: every query, the trace command, browsing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from otlp_clients import recorded, send_recorded
from store_files import start_serve
from trace_builders import settle
from tui_harness import RECORDED_NOW_NS, store_with

from otelwatch.commands.trace import resolve
from otelwatch.control import CALLS, ControlServer, RemoteReader
from otelwatch.reading import read_database
from otelwatch.simulator import Simulator
from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.traces import TracesView
from otelwatch.tui.waterfall import Waterfall

START_NS = 1_795_000_000_000_000_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Reader, RemoteReader]]:
    """A store of simulated Claude Code sessions, and its control socket, in this process."""
    sim = Simulator(seed=11, sessions=3, start_ns=START_NS)
    exports = sim.advance(300.0)
    path = tmp_path / "served.duckdb"
    reader = store_with(path, [(e.signal, "protobuf", e.body()) for e in exports])
    server = ControlServer(path, reader)
    server.start()
    try:
        remote = RemoteReader.connect(path)
        assert remote is not None
        yield reader, remote
    finally:
        server.stop()


def _arguments(reader: Reader) -> dict[str, dict[str, Any]]:
    """Representative arguments for every named query, taken from the data."""
    session = reader.sessions()[1].session_id  # [0] is the row for all sessions
    trace_row = max(reader.traces(), key=lambda t: t.spans)
    trace = reader.trace(trace_row.trace_id)
    assert trace is not None
    span_id = trace.spans[-1].span_id
    event_key = reader.events(limit=5)[2].key
    return {
        "activity": {"session_id": session},
        "api_health": {},
        "cost_series": {
            "session_id": None,
            "start_ns": START_NS,
            "end_ns": START_NS + 300 * 10**9,
            "buckets": 30,
        },
        "decision_counts": {"session_id": session},
        "event_detail": {"key": event_key},
        "events": {"session_id": session, "text": "Bash"},
        "find_sessions": {"prefix": session[:4]},
        "has_data": {},
        "overview": {"session_id": None, "now_ns": START_NS + 300 * 10**9},
        "problems": {},
        "run_sql": {"sql": "SELECT event_name, count(*) FROM log_events GROUP BY 1 ORDER BY 1"},
        "session_summary": {"session_id": session},
        "sessions": {},
        "span_detail": {"trace_id": trace_row.trace_id, "span_id": span_id},
        "table_counts": {},
        "tool_stats": {"session_id": None},
        "trace": {"trace_id": trace_row.trace_id},
        "trace_ids": {"prefix": trace_row.trace_id[:3], "limit": 5},
        "trace_search": {"trace_id": trace_row.trace_id, "text": "llm"},
        "traces": {"sort": "duration", "descending": False},
        "usage": {"session_id": session},
    }


def test_every_query_answers_the_same_through_the_socket(
    served: tuple[Reader, RemoteReader],
) -> None:
    reader, remote = served
    arguments = _arguments(reader)
    # A query added to the Reader must be added here too, so it is checked.
    assert set(arguments) == set(CALLS)
    for name, args in arguments.items():
        local = getattr(reader, name)(**args)
        through = getattr(remote, name)(**args)
        assert through == local, name
        assert local not in (None, [], 0), f"{name}: the data should give an answer"


def test_positional_arguments_and_unknown_calls(served: tuple[Reader, RemoteReader]) -> None:
    reader, remote = served
    trace_id = reader.traces()[0].trace_id
    assert remote.trace(trace_id) == reader.trace(trace_id)
    with pytest.raises(AttributeError):
        remote.drop_everything  # noqa: B018 - only named queries exist
    with pytest.raises(TypeError):
        remote.trace(trace_id, "extra", "arguments")


def _serve(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    return start_serve(db)


async def test_trace_opens_while_serve_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    proc, grpc_addr, http_addr = _serve(db)
    try:
        for request in recorded("grpc"):
            send_recorded(grpc_addr, http_addr, request)
        with read_database(str(db)) as source:
            assert isinstance(source, RemoteReader)  # read through the otelwatch holding it
            trace_id = resolve(source, "9adab")
            app = OtelwatchApp(
                cast(Reader, source),
                AppInfo(db_label=str(db), read_only=True),
                clock=lambda: RECORDED_NOW_NS,
                start_view="3",
            )
            view = app.view("3")
            assert isinstance(view, TracesView)
            view.start_with_trace(trace_id)
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(app, pilot)
                assert app.query_one(Waterfall).row_count == 6
                await pilot.press("1")
                await settle(app, pilot)
                assert "$0.08" in app.export_screenshot().replace("&#160;", " ")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
