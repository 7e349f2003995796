"""What the dashboard tells about its own health: start-up warnings and refused storage."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from store_files import start_serve
from tui_harness import RECORDED_NOW_NS, recorded_store

from otelwatch.control import socket_path
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo, StatusHeader


async def test_a_storage_problem_leads_the_header(tmp_path: Path) -> None:
    problem: list[str | None] = [None]
    app = OtelwatchApp(
        recorded_store(tmp_path / "h.duckdb"),
        AppInfo(db_label="h.duckdb", storage_problem=lambda: problem[0]),
        clock=lambda: RECORDED_NOW_NS,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        header = app.query_one(StatusHeader)
        await pilot.pause(1.2)
        assert "not storing" not in header.render().plain
        problem[0] = "cannot write the database (No space left on device)"
        await pilot.pause(1.2)  # the header looks once a second
        text = header.render().plain
        assert text.index("not storing") < text.index("session")
        assert "No space left on device" in text
        problem[0] = None
        await pilot.pause(1.2)
        assert "not storing" not in header.render().plain


async def test_start_up_warnings_are_shown_in_the_dashboard(tmp_path: Path) -> None:
    warning = "listening on 0.0.0.0 without --auth-token: anyone who can reach this host can send"
    app = OtelwatchApp(
        recorded_store(tmp_path / "w.duckdb"),
        AppInfo(db_label="w.duckdb", warnings=(warning,)),
        clock=lambda: RECORDED_NOW_NS,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications] == [warning]


def test_a_control_client_that_hangs_up_leaves_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    proc, _, _ = start_serve(db, "-q")
    try:
        path = socket_path(db)
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(5):
            # Ask for a large answer, then leave without reading it.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(path))
                request = {"call": "run_sql", "args": {"sql": "SELECT range FROM range(200000)"}}
                sock.sendall(json.dumps(request).encode() + b"\n")
        time.sleep(1.0)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "BrokenPipe" not in err
