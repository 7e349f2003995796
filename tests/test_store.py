"""The store on real DuckDB files: migrations, the writer, temporality."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from otlp_clients import recorded

from otelwatch.ingest import otlp_proto
from otelwatch.store import database
from otelwatch.store.arrow_rows import pack
from otelwatch.store.errors import BatchRejected, DatabaseError, DatabaseLocked
from otelwatch.store.recent import RecentKeys
from otelwatch.store.rows import RowBatch
from otelwatch.store.temporality import SeriesState, cumulative_increase
from otelwatch.store.writer import Committed, Writer

# ------------------------------------------------------------------ temporality


def test_first_point_of_a_run_counts_whole() -> None:
    increase, state = cumulative_increase(None, 100, 200, 5.0, monotonic=True)
    assert increase == 5.0
    assert state == SeriesState(100, 200, 5.0)


def test_growth_within_a_run() -> None:
    increase, state = cumulative_increase(SeriesState(100, 200, 5.0), 100, 300, 7.5, True)
    assert increase == 2.5
    assert state == SeriesState(100, 300, 7.5)


def test_new_start_time_is_a_new_run() -> None:
    increase, _ = cumulative_increase(SeriesState(100, 200, 5.0), 150, 300, 2.0, True)
    assert increase == 2.0


def test_drop_without_new_start_is_a_reset_for_monotonic_sums() -> None:
    increase, state = cumulative_increase(SeriesState(100, 200, 5.0), 100, 300, 1.0, True)
    assert increase == 1.0
    assert state == SeriesState(100, 300, 1.0)


def test_non_monotonic_sums_may_go_down() -> None:
    increase, _ = cumulative_increase(SeriesState(100, 200, 5.0), 100, 300, 1.0, False)
    assert increase == -4.0


def test_old_or_repeated_points_add_nothing() -> None:
    previous = SeriesState(100, 300, 5.0)
    assert cumulative_increase(previous, 100, 300, 5.0, True) == (0.0, None)
    assert cumulative_increase(previous, 100, 250, 4.0, True) == (0.0, None)


# ------------------------------------------------------------------ database


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    latest = database.migrations()[-1].version
    conn = database.connect(path)
    assert database.schema_version(conn) == latest
    conn.close()
    conn = database.connect(path)
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (latest,)
    conn.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    database.connect(path).close()
    with duckdb.connect(str(path)) as raw:
        raw.execute("INSERT INTO schema_version VALUES (999, 0)")
    with pytest.raises(DatabaseError, match="newer than this otelwatch"):
        database.connect(path)


def test_read_only_needs_an_otelwatch_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database"):
        database.connect(tmp_path / "missing.duckdb", read_only=True)
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    with pytest.raises(DatabaseError, match="not an otelwatch database"):
        database.connect(plain, read_only=True)


def test_lock_message_names_the_holder(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
            "time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(
            DatabaseLocked, match=rf"in use by another otelwatch \(process {holder.pid}\)"
        ):
            database.connect(path)
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------ writer


def _batch(signal: str, body: bytes) -> RowBatch:
    decode = {
        "traces": otlp_proto.decode_traces,
        "logs": otlp_proto.decode_logs,
        "metrics": otlp_proto.decode_metrics,
    }[signal]
    return decode(body, 1_800_000_000_000_000_000)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    conn = database.connect(tmp_path / "w.duckdb")
    commits: list[Committed] = []
    w = Writer(conn, on_commit=commits.append)
    w.commits = commits  # type: ignore[attr-defined]
    w.start()
    yield w
    w.close()
    conn.close()


def _count(writer: Writer, table: str) -> int:
    row = writer._conn.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_retried_request_is_stored_once(writer: Writer) -> None:
    for request in recorded("grpc"):
        writer.write(_batch(request.signal, request.body))
    before = [_count(writer, t) for t in ("spans", "log_events", "metric_points", "resources")]
    for request in recorded("grpc"):
        writer.write(_batch(request.signal, request.body))
    after = [_count(writer, t) for t in ("spans", "log_events", "metric_points", "resources")]
    assert after == before
    assert writer.duplicates_dropped == sum(before[:3])
    writer.close()


TABLES = ("spans", "log_events", "metric_points", "resources")


def test_packed_batches_store_exactly_what_rows_store(tmp_path: Path) -> None:
    """Decoder processes send spans and log events as Arrow tables: stored the same as rows."""
    contents = {}
    for mode in ("rows", "packed"):
        conn = database.connect(tmp_path / f"{mode}.duckdb")
        w = Writer(conn)
        w.start()
        for request in recorded("grpc"):
            batch = _batch(request.signal, request.body)
            w.write(pack(batch) if mode == "packed" else batch)
        stored = sum(_count(w, t) for t in TABLES[:3])
        # A retry is a repeat in the other form too.
        for request in recorded("grpc"):
            batch = _batch(request.signal, request.body)
            w.write(batch if mode == "packed" else pack(batch))
        assert w.duplicates_dropped == stored
        w.close()
        contents[mode] = {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES
        }
        conn.close()
    assert contents["packed"] == contents["rows"]
    assert contents["rows"]["spans"] and contents["rows"]["log_events"]


def test_a_packed_batch_that_partly_repeats_stores_only_the_new_rows(writer: Writer) -> None:
    traces = next(r for r in recorded("grpc") if r.signal == "traces")
    first = _batch("traces", traces.body)
    half = len(first.spans) // 2
    assert half
    first.spans = first.spans[:half]
    writer.write(first)
    writer.write(pack(_batch("traces", traces.body)))
    assert _count(writer, "spans") == len(_batch("traces", traces.body).spans)
    assert writer.duplicates_dropped == half


def test_commits_are_reported_after_they_happen(writer: Writer) -> None:
    traces = next(r for r in recorded("grpc") if r.signal == "traces")
    writer.write(_batch("traces", traces.body))
    commits: list[Committed] = writer.commits  # type: ignore[attr-defined]
    assert len(commits) == 1
    assert commits[0].spans == 6
    assert commits[0].tables == frozenset({"spans", "resources"})
    writer.close()


def test_one_bad_request_does_not_fail_its_group(writer: Writer) -> None:
    traces = next(r for r in recorded("grpc") if r.signal == "traces")
    good = _batch("traces", traces.body)
    bad = _batch("traces", traces.body)
    # Corrupt the JSON of one span so that DuckDB refuses the insert.
    first = list(bad.spans[0])
    first[1] = "ffffffffffffffff"
    first[19] = "{not json"
    bad.spans = [tuple(first)]  # type: ignore[list-item]
    futures = [writer.submit(good), writer.submit(bad)]
    futures[0].result(10)
    with pytest.raises(BatchRejected):
        futures[1].result(10)
    assert _count(writer, "spans") == 6
    writer.close()


def test_close_writes_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "drain.duckdb"
    conn = database.connect(path)
    w = Writer(conn)
    futures = [w.submit(_batch(r.signal, r.body)) for r in recorded("http-protobuf")]
    w.start()
    w.close()
    assert all(f.done() and f.exception() is None for f in futures)
    conn.close()
    with duckdb.connect(str(path), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM spans").fetchone() == (6,)


# ------------------------------------------------------------------ recent keys


def test_recent_keys_forget_by_count() -> None:
    recent = RecentKeys(capacity=10)
    for i in range(5):
        recent.add(("k", i))
    assert ("k", 0) in recent
    for i in range(5, 15):
        recent.add(("k", i))
    assert ("k", 0) not in recent  # two rotations later
    assert ("k", 14) in recent
    assert len(recent) <= 10


def test_recent_keys_forget_by_age() -> None:
    now = [0.0]
    recent = RecentKeys(capacity=1_000_000, max_age_s=120, clock=lambda: now[0])
    recent.add("retry")
    now[0] = 59.0
    recent.expire()
    assert "retry" in recent  # younger than half the age: still in the young generation
    now[0] = 61.0
    recent.expire()
    assert "retry" in recent  # now in the old generation
    now[0] = 122.0
    recent.expire()
    assert "retry" not in recent
    assert len(recent) == 0


def test_queries_in_a_snapshot_see_the_same_commit(writer: Writer) -> None:
    from otelwatch.store.reader import Reader

    reader = Reader(writer._conn)
    traces = next(r for r in recorded("grpc") if r.signal == "traces")
    logs = next(r for r in recorded("grpc") if r.signal == "logs")
    writer.write(_batch("traces", traces.body))
    with reader.snapshot():
        before = reader.table_counts()
        writer.write(_batch("logs", logs.body))  # committed on the writer thread meanwhile
        during = reader.table_counts()
        assert reader.events() == []  # another query, the same snapshot
    after = reader.table_counts()
    assert during == before
    assert after.log_events == 5 > during.log_events == 0
