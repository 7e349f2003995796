"""Retention: age and size caps enforced by the writer thread, on real data, with fake clocks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import recorded

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import Simulator
from otelwatch.store import database
from otelwatch.store.retention import NS_PER_DAY, Retention, RetentionPolicy, used_bytes
from otelwatch.store.writer import Writer

DAY0 = 1_790_000_000_000_000_000
DECODE = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}


class FakeClocks:
    """Wall time (for ages) and monotonic time (for pacing), moved by hand."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns
        self.mono = 1000.0

    def wall(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.mono

    def advance_days(self, days: float) -> None:
        self.now_ns += int(days * NS_PER_DAY)
        self.mono += days * 86_400


def _trace(trace: int, spans: int, name: str = "span", first: int = 0) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for i in range(spans):
        span = scope.spans.add()
        span.trace_id = trace.to_bytes(16, "big")
        span.span_id = (trace * 100 + first + i + 1).to_bytes(8, "big")
        span.name = f"{name} {i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000  # the sender's clock is ignored
        span.end_time_unix_nano = 1_700_000_000_100_000_000
    return request.SerializeToString()


def _count(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    with conn.cursor() as cur:
        row = cur.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


class Store:
    """A real database file, the real writer with a retention policy, and fake clocks."""

    def __init__(self, path: Path, policy: RetentionPolicy, **retention: object) -> None:
        self.clocks = FakeClocks(DAY0)
        self.conn = database.connect(path)
        self.retention = Retention(
            policy,
            path=str(path),
            clock=self.clocks.wall,
            monotonic=self.clocks.monotonic,
            check_every_s=60.0,
            pause_s=0.0,
            **retention,  # type: ignore[arg-type]
        )
        self.writer = Writer(self.conn, retention=self.retention)
        self.writer.start()

    def send(self, signal: str, body: bytes, received_ns: int | None = None) -> None:
        self.writer.write(DECODE[signal](body, received_ns or self.clocks.now_ns))

    def prune(self) -> int:
        """A whole retention pass, run on the writer thread."""
        return int(self.writer.call(self.retention.run_pass).result(60).items)

    def count(self, sql: str) -> int:
        return _count(self.conn, sql)

    def close(self) -> None:
        self.writer.close()
        self.conn.close()


@pytest.fixture
def week(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "r.duckdb", RetentionPolicy(max_age_ns=7 * NS_PER_DAY, max_bytes=None))
    yield store
    store.close()


def test_data_older_than_the_retention_goes_and_newer_data_stays(week: Store) -> None:
    for r in recorded("grpc"):  # the real Claude Code session, received on day 0
        week.send(r.signal, r.body)
    tables = ("spans", "log_events", "metric_points")
    day0 = {t: week.count(f"SELECT count(*) FROM {t}") for t in tables}
    assert all(day0.values())
    week.clocks.advance_days(5)
    week.send("traces", _trace(77, 3))  # day 5
    week.clocks.advance_days(3)  # day 8: day 0 is over a week old, day 5 is not

    assert week.prune() == sum(day0.values())
    assert week.count("SELECT count(*) FROM log_events") == 0
    assert week.count("SELECT count(*) FROM metric_points") == 0
    assert week.count("SELECT count(DISTINCT trace_id) FROM spans") == 1
    assert week.count("SELECT count(*) FROM spans") == 3


def test_a_trace_goes_only_when_all_of_its_spans_are_old(week: Store) -> None:
    week.send("traces", _trace(1, 4))  # day 0: trace 1 starts
    week.send("traces", _trace(2, 5))  # day 0: trace 2, complete
    week.clocks.advance_days(6)
    week.send("traces", _trace(1, 1, name="late child", first=50))  # day 6: a late span of trace 1
    week.clocks.advance_days(3)  # day 9: cutoff is day 2

    week.prune()
    kept = dict(
        week.conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY 1 ORDER BY 1").fetchall()
    )
    # Trace 1 stays whole (4 + 1 spans), trace 2 is gone entirely: never half a trace.
    assert kept == {(1).to_bytes(16, "big").hex(): 5}

    week.clocks.advance_days(7)
    week.prune()
    assert week.count("SELECT count(*) FROM spans") == 0


def test_senders_with_a_wrong_clock_cannot_get_data_deleted_early(week: Store) -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "zero times"
    week.send("traces", request.SerializeToString())  # start and end time 0 (1970)
    week.clocks.advance_days(1)
    assert week.prune() == 0
    assert week.count("SELECT count(*) FROM spans") == 1


def test_the_writer_enforces_retention_by_itself_when_due(week: Store) -> None:
    for trace in range(1, 21):
        week.send("traces", _trace(trace, 3))
    week.clocks.advance_days(8)
    week.send("traces", _trace(999, 2))  # wakes the writer; its next check is then due
    deadline = time.monotonic() + 30
    # The writer adds a step to its total just after the step's commit: wait for both.
    while time.monotonic() < deadline and (
        week.count("SELECT count(*) FROM spans") != 2 or week.retention.total.spans != 60
    ):
        time.sleep(0.02)
    assert week.count("SELECT count(*) FROM spans") == 2
    assert week.retention.total.spans == 60


def test_steps_are_small_batches(tmp_path: Path) -> None:
    store = Store(
        tmp_path / "b.duckdb",
        RetentionPolicy(max_age_ns=NS_PER_DAY, max_bytes=None),
        batch_traces=7,
        batch_rows=11,
    )
    try:
        for trace in range(1, 31):
            store.send("traces", _trace(trace, 2))
        store.clocks.advance_days(2)
        steps = store.writer.call(lambda conn: _steps(store.retention, conn)).result(60)
        assert steps[:4] == [14, 14, 14, 14]  # 7 whole traces of 2 spans per step
        assert sum(steps) == 60
        assert steps[-1] == 0
    finally:
        store.close()


def _steps(retention: Retention, conn: duckdb.DuckDBPyConnection) -> list[int]:
    steps = []
    while True:
        steps.append(retention.step(conn).items)
        if not steps[-1]:
            return steps


def _used(store: Store, path: Path) -> int:
    return int(store.writer.call(lambda conn: used_bytes(conn, str(path))).result(60))


def _checkpoint(store: Store) -> None:
    store.writer.call(lambda conn: conn.execute("CHECKPOINT").fetchall()).result(60)


def test_the_size_cap_deletes_the_oldest_data_first_in_whole_traces(tmp_path: Path) -> None:
    path = tmp_path / "size.duckdb"
    store = Store(path, RetentionPolicy(max_age_ns=None, max_bytes=None))
    sim = Simulator(seed=3, sessions=16, start_ns=DAY0, traces_interval_s=5, logs_interval_s=5)
    try:
        # Ten simulated "days" of traffic, each received a day after the previous one.
        for day in range(10):
            for export in sim.advance(60):
                store.send(export.signal, export.body(), DAY0 + day * NS_PER_DAY)
        _checkpoint(store)
        spans_per_trace = dict(
            store.conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY 1").fetchall()
        )
        store.retention.policy = RetentionPolicy(max_age_ns=None, max_bytes=_used(store, path) // 2)

        assert store.prune() > 0
        oldest_kept = store.count(
            "SELECT min(received_ns) FROM (SELECT received_ns FROM spans UNION ALL "
            "SELECT received_ns FROM log_events UNION ALL SELECT received_ns FROM metric_points)"
        )
        newest_day = DAY0 + 9 * NS_PER_DAY
        assert oldest_kept > DAY0  # the first day went first
        for table in ("spans", "log_events", "metric_points"):  # the last day is all there
            assert store.count(f"SELECT count(*) FROM {table} WHERE received_ns = {newest_day}")
        # Whole traces: every remaining trace has all the spans it had.
        remaining = dict(
            store.conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY 1").fetchall()
        )
        assert remaining
        assert all(spans_per_trace[t] == n for t, n in remaining.items())
        # This database is smaller than one DuckDB row group, so no space came free: size
        # pruning now waits for the data to grow instead of deleting everything.
        assert store.prune() == 0
        assert store.count("SELECT count(*) FROM spans") == sum(remaining.values())
    finally:
        store.close()


@pytest.mark.slow
def test_the_size_cap_bounds_the_space_used(tmp_path: Path) -> None:
    path = tmp_path / "big.duckdb"
    store = Store(path, RetentionPolicy(max_age_ns=None, max_bytes=None))
    try:
        # 300,000 spans in traces of 400, about three DuckDB row groups, over 750 "hours".
        hour = NS_PER_DAY // 24
        for trace in range(1, 751):
            store.send("traces", _trace(trace, 400), DAY0 + trace * hour)
        _checkpoint(store)
        used = _used(store, path)
        cap = int(used * 0.6)
        store.retention.policy = RetentionPolicy(max_age_ns=None, max_bytes=cap)
        assert store.prune() > 0
        assert _used(store, path) <= cap
        assert store.count("SELECT count(*) FROM spans") % 400 == 0  # whole traces only
        assert store.count("SELECT max(received_ns) FROM spans") == DAY0 + 750 * hour
        file_size = path.stat().st_size

        # New data replaces the old: the space used stays under the cap, the file stops growing.
        for trace in range(751, 1001):
            store.send("traces", _trace(trace, 400), DAY0 + trace * hour)
        store.prune()
        assert _used(store, path) <= cap
        assert path.stat().st_size <= file_size * 1.05
    finally:
        store.close()


def test_policy_describes_itself_for_the_header() -> None:
    assert RetentionPolicy().describe() == "30 d · 2 GB"
    assert RetentionPolicy(7 * NS_PER_DAY, 500 * 1000**2).describe() == "7 d · 500 MB"
    assert RetentionPolicy(12 * 3600 * 10**9, None).describe() == "12 h"
    assert RetentionPolicy(None, None).describe() == "forever"
    assert not RetentionPolicy(None, None).enabled


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ([], "30 d · 2 GB"),
        (["--retention", "7d", "--max-db-size", "500MB"], "7 d · 500 MB"),
        (["--retention", "off", "--max-db-size", "off"], "forever"),
        (["--retention", "36h"], "36 h · 2 GB"),
    ],
)
def test_command_line_options_reach_the_header(args: list[str], shown: str) -> None:
    from otelwatch.cli import build_parser
    from otelwatch.commands.common import settings_from

    settings = settings_from(build_parser().parse_args(args))
    assert settings.retention.describe() == shown


@pytest.mark.parametrize("bad", [["--retention", "soon"], ["--max-db-size", "huge"]])
def test_bad_retention_options_are_one_line_errors(bad: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otelwatch", "serve", *bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


async def test_the_header_shows_the_retention(tmp_path: Path) -> None:
    from conftest import start_runtime

    from otelwatch.commands.dashboard import app_info
    from otelwatch.tui.app import OtelwatchApp
    from otelwatch.tui.header import StatusHeader

    runtime = start_runtime(
        tmp_path / "h.duckdb", retention=RetentionPolicy(7 * NS_PER_DAY, 2 * 1000**3)
    )
    try:
        app = OtelwatchApp(runtime.reader(), app_info(runtime))
        async with app.run_test(size=(160, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            header = app.query_one(StatusHeader)
            assert "keep 7 d · 2 GB" in header.render().plain
    finally:
        runtime.stop()


def test_a_failing_step_waits_for_the_next_check(week: Store) -> None:
    def broken(conn: duckdb.DuckDBPyConnection) -> None:
        raise duckdb.IOException("disk on fire")

    week.clocks.advance_days(1)
    retention = week.retention
    original = retention._delete_batch
    retention._delete_batch = lambda conn, cutoff: broken(conn)  # type: ignore[method-assign,assignment,return-value]
    try:
        week.send("traces", _trace(5, 1))
        week.clocks.advance_days(8)
        # On the writer thread, the connection's only user.
        with pytest.raises(duckdb.IOException):
            week.writer.call(retention.step).result(60)
        assert retention.seconds_until_due() == pytest.approx(60.0)
    finally:
        retention._delete_batch = original  # type: ignore[method-assign]
