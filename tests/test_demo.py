"""``otelwatch demo``: the feed over real listeners, and the command in a real terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import query, start_runtime

from otelwatch.demo_feed import TRANSPORTS, DemoFeed, transport_of
from otelwatch.simulator import DEFAULT_START_NS, Simulator

S = 1_000_000_000


def test_feed_sends_every_export_over_all_three_transports(tmp_path: Path) -> None:
    runtime = start_runtime(tmp_path / "d.duckdb")
    try:
        assert runtime.grpc_address is not None
        assert runtime.http_address is not None
        sim = Simulator(seed=11, sessions=6, start_ns=DEFAULT_START_NS, metrics_interval_s=5.0)
        feed = DemoFeed(sim, runtime.grpc_address, runtime.http_address, backfill_s=240.0)
        feed.start()
        assert feed.backfilled.wait(60), "the backfill was not sent"
        feed.stop()
        assert feed.stats.failed == 0
        counts = query(
            runtime,
            "SELECT (SELECT count(*) FROM spans) + (SELECT count(*) FROM log_events)"
            " + (SELECT count(*) FROM metric_points)",
        )
        assert counts[0][0] == feed.stats.items > 500
        sessions = [row[0] for row in query(runtime, "SELECT DISTINCT session_id FROM log_events")]
        assert {transport_of(s) for s in sessions} == set(TRANSPORTS)
        # Events that only travel as OTLP/JSON still arrive with their promoted columns.
        json_sessions = [s for s in sessions if transport_of(s) == "http/json"]
        priced = query(
            runtime,
            "SELECT count(*) FROM log_events WHERE event_name = 'api_request'"
            " AND cost_usd > 0 AND session_id = ?",
            [json_sessions[0]],
        )
        assert priced[0][0] > 0
    finally:
        runtime.stop()


def test_feed_clock_runs_at_the_chosen_speed() -> None:
    now = [100.0]
    sim = Simulator(seed=1, sessions=1, start_ns=DEFAULT_START_NS)
    feed = DemoFeed(
        sim, "127.0.0.1:1", "127.0.0.1:1", speed=3.0, backfill_s=60, monotonic=lambda: now[0]
    )
    assert feed.now_ns() == DEFAULT_START_NS + 60 * S
    now[0] += 2.0
    assert feed.now_ns() == DEFAULT_START_NS + 66 * S
    with pytest.raises(ValueError, match="speed"):
        DemoFeed(sim, "a:1", "b:1", speed=0)


def _run_in_terminal(args: list[str], tmp: Path, keys: bytes, wait_s: float) -> tuple[int, str]:
    """Run otelwatch in a pseudo-terminal of 120x40, type ``keys`` after ``wait_s``."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "HOME": str(tmp)}
    process = subprocess.Popen(
        [sys.executable, "-m", "otelwatch", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    output = bytearray()

    def drain(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                import select

                ready, _, _ = select.select([primary], [], [], 0.1)
                if ready:
                    output.extend(os.read(primary, 65536))
            except OSError:
                return

    drain(wait_s)
    os.write(primary, keys)
    try:
        for _ in range(200):
            drain(0.1)
            if process.poll() is not None:
                break
        drain(0.3)
        status = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    return status, output.decode("utf-8", "replace")


@pytest.mark.slow
def test_demo_command_shows_a_live_dashboard_and_removes_its_database(tmp_path: Path) -> None:
    status, screen = _run_in_terminal(
        ["demo", "--seed", "3", "--speed", "4", "--backfill", "120"], tmp_path, b"q", 8.0
    )
    assert status == 0, screen[-2000:]
    assert "Cost" in screen
    assert "Tokens" in screen
    assert "otelwatch demo: sent" in screen
    assert "(seed 3)" in screen
    # The temporary database and its directory are gone.
    assert not list(tmp_path.glob("otelwatch-demo-*"))


def test_demo_refuses_nonsense_options(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otelwatch", "demo", "--sessions", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "--sessions must be at least 1" in result.stderr
    assert not list(tmp_path.glob("otelwatch-demo-*"))
