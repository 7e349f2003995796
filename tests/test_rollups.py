"""The per-session totals (store/rollups.py) stay equal to aggregating the raw tables.

Real DuckDB files, data from the simulator through the real decoder and writer: kept commit by
commit, after duplicates, after retention deletes, and filled by the migration for an older file.
The Overview and Sessions answers read from them are checked against the raw tables too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import Simulator
from otelwatch.store import database, rollups
from otelwatch.store.arrow_rows import pack
from otelwatch.store.queries.overview import spend_cte
from otelwatch.store.reader import Reader
from otelwatch.store.retention import NS_PER_DAY, Retention, RetentionPolicy
from otelwatch.store.writer import Writer

DAY0 = 1_790_000_000_000_000_000
DECODE = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}


def _rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:  # the writer thread may be using the connection
        rows = cur.execute(sql).fetchall()
    # Sums of floats added in another order differ in the last bits only.
    rounded = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows]
    return sorted(rounded, key=lambda r: tuple((v is None, str(v)) for v in r))


def stored(conn: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The totals as the writer kept them (appended rows added up by session and model)."""
    sql = rollups.compacted("session_rollup")
    return _rows(conn, f"SELECT {', '.join(rollups.COLUMNS)} FROM ({sql})")


def recomputed(conn: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The totals aggregated afresh from the raw tables."""
    return _rows(conn, f"SELECT {', '.join(rollups.COLUMNS)} FROM ({rollups.aggregate()})")


def send(
    writer: Writer, sim: Simulator, seconds: float, *, logs: bool = True, packed: bool = False
) -> None:
    """``seconds`` of the simulator, one commit per export (without its events if not
    ``logs``: Claude Code with the events switched off); ``packed`` as decoder processes send
    them."""
    for export in sim.advance(seconds):
        if export.signal == "logs" and not logs:
            continue
        batch = DECODE[export.signal](export.body(), sim.now_ns)
        writer.write(pack(batch) if packed else batch)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = database.connect(tmp_path / "r.duckdb")
    yield connection
    connection.close()


@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
@pytest.mark.parametrize("small", [0, rollups.SMALL_COMMIT_ROWS], ids=["arrow", "python"])
def test_the_writer_keeps_the_totals_equal_to_the_raw_tables(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, small: int, packed: bool
) -> None:
    # Small commits are added up in Python, large ones with Arrow: both ways are checked; and
    # both the rows of in-process decoding and what decoder processes send.
    monkeypatch.setattr(rollups, "SMALL_COMMIT_ROWS", small)
    writer = Writer(conn)
    writer.start()
    with_events = Simulator(seed=3, sessions=4, start_ns=DAY0)
    metrics_only = Simulator(seed=4, sessions=2, start_ns=DAY0)
    send(writer, with_events, 600, packed=packed)
    send(writer, metrics_only, 600, logs=False, packed=packed)
    # An exporter's retry: the same requests again are dropped, and so not counted twice.
    again = Simulator(seed=3, sessions=4, start_ns=DAY0)
    send(writer, again, 120, packed=packed)
    writer.close()

    totals = stored(conn)
    assert totals == recomputed(conn)
    sessions = {r[0] for r in totals}
    assert len(sessions) >= 6
    requests = conn.execute("SELECT sum(requests), sum(mp_points) FROM session_rollup").fetchone()
    assert requests is not None and requests[0] > 0 and requests[1] > 0


def test_appended_totals_are_folded_without_changing_them(
    conn: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollups, "COMPACT_AFTER_ROWS", 40)
    writer = Writer(conn)
    writer.start()
    sim = Simulator(seed=12, sessions=4, start_ns=DAY0)
    send(writer, sim, 300)
    before = stored(conn)
    send(writer, sim, 300)
    writer.close()

    assert before and stored(conn) == recomputed(conn)
    keys = conn.execute(
        "SELECT count(*), count(DISTINCT (session_id, model)) FROM session_rollup"
    ).fetchone()
    assert keys is not None
    # Folded as it went: never far above one row per session and model.
    assert keys[0] <= keys[1] + max(40, keys[1] // 4) + 60
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        left = rollups.compact(cur)
        cur.execute("COMMIT")
    assert left == keys[1]
    assert stored(conn) == recomputed(conn)


def test_overview_and_sessions_agree_with_the_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    writer = Writer(conn)
    writer.start()
    send(writer, Simulator(seed=5, sessions=3, start_ns=DAY0), 900)
    send(writer, Simulator(seed=6, sessions=2, start_ns=DAY0), 900, logs=False)
    writer.close()
    reader = Reader(conn)

    # Usage: each session priced from one source, as the raw spend rows say.
    spend, params = spend_cte(None)
    raw = conn.execute(
        f"""{spend}
        SELECT model, sum(cost), sum(input) + sum(output) + sum(cache_read)
               + sum(cache_creation), sum(requests)
        FROM spend GROUP BY model""",
        params,
    ).fetchall()
    usage = reader.usage()
    got = {m.model: m for m in usage.by_model}
    assert set(got) == {r[0] for r in raw}
    for model, cost, tokens, requests in raw:
        assert got[model].cost_usd == pytest.approx(cost)
        assert got[model].total_tokens == round(tokens)
        assert got[model].requests == requests
    sources = conn.execute(
        f"""{spend}
        SELECT count(DISTINCT sid) FILTER (WHERE from_events),
               count(DISTINCT sid) FILTER (WHERE NOT from_events), min(time_ns), max(time_ns)
        FROM spend""",
        params,
    ).fetchone()
    assert sources is not None
    assert (usage.source.event_sessions, usage.source.metric_sessions) == sources[:2]
    assert usage.source.event_sessions > 0 and usage.source.metric_sessions > 0
    assert (usage.first_ns, usage.last_ns) == sources[2:]

    # Sessions: cost, prompts and times of each, from the raw tables.
    per_session = dict(
        conn.execute(
            f"{spend} SELECT sid, sum(cost) FROM spend GROUP BY sid",
            params,
        ).fetchall()
    )
    prompts = dict(
        conn.execute(
            "SELECT session_id, count(*) FROM log_events WHERE event_name = 'user_prompt' "
            "GROUP BY 1"
        ).fetchall()
    )
    last = dict(
        conn.execute(
            "SELECT session_id, max(t) FROM (SELECT session_id, time_ns AS t FROM log_events "
            "UNION ALL SELECT session_id, time_ns FROM metric_points "
            "UNION ALL SELECT session_id, end_ns FROM spans) GROUP BY 1"
        ).fetchall()
    )
    rows = reader.sessions()
    assert {r.session_id for r in rows} == {s for s in last if s is not None}
    for row in rows:
        assert row.cost_usd == pytest.approx(per_session.get(row.session_id, 0.0))
        assert row.last_ns == last[row.session_id]
        if row.priced_from_events:
            assert row.prompts == prompts.get(row.session_id, 0)
    assert [r.last_ns for r in rows] == sorted((r.last_ns for r in rows), reverse=True)
    assert any(not r.priced_from_events and r.cost_usd > 0 for r in rows)

    # Activity and API health counts.
    lines = conn.execute(
        "SELECT coalesce(sum(increase), 0) FROM metric_points "
        "WHERE metric_name = 'claude_code.lines_of_code.count' AND \"type\" = 'added'"
    ).fetchone()
    assert lines is not None
    assert reader.activity().lines_added == pytest.approx(lines[0])
    assert reader.activity().prompts == sum(prompts.values())
    errors = conn.execute(
        "SELECT count(*) FROM log_events WHERE event_name = 'api_error'"
    ).fetchone()
    assert errors is not None
    assert reader.api_health().errors == errors[0]


def test_retention_deletes_keep_the_totals_equal(tmp_path: Path) -> None:
    clock = [DAY0]
    mono = [1000.0]
    conn = database.connect(tmp_path / "r.duckdb")
    retention = Retention(
        RetentionPolicy(max_age_ns=7 * NS_PER_DAY, max_bytes=None),
        path=None,
        clock=lambda: clock[0],
        monotonic=lambda: mono[0],
        pause_s=0.0,
        batch_rows=500,
        batch_traces=50,
    )
    writer = Writer(conn, retention=retention)
    writer.start()
    old = Simulator(seed=7, sessions=3, start_ns=DAY0)
    for export in old.advance(600):
        writer.write(DECODE[export.signal](export.body(), clock[0]))
    clock[0] += 5 * NS_PER_DAY
    new = Simulator(seed=8, sessions=2, start_ns=clock[0])
    for export in new.advance(300):
        writer.write(DECODE[export.signal](export.body(), clock[0]))
    before = {r[0] for r in stored(conn)}
    clock[0] += 3 * NS_PER_DAY  # the first batch is now over a week old

    pruned = writer.call(retention.run_pass).result(60)
    writer.close()
    assert pruned.items > 0
    totals = stored(conn)
    assert totals == recomputed(conn)
    after = {r[0] for r in totals}
    assert after and after < before  # the old sessions are gone, the new ones kept
    conn.close()


def test_the_migration_fills_the_totals_of_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = database.connect(path)
    writer = Writer(conn)
    writer.start()
    send(writer, Simulator(seed=9, sessions=3, start_ns=DAY0), 600)
    writer.close()
    expected = stored(conn)
    # The file as otelwatch left it before the totals existed.
    conn.execute("DROP TABLE session_rollup")
    conn.execute("DELETE FROM schema_version WHERE version >= 3")
    conn.close()

    reopened = database.connect(path)
    assert stored(reopened) == expected
    assert expected
    reopened.close()
