"""``otelwatch query``: read-only SQL, in three formats, whether or not otelwatch is running."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from store_files import build_db, otelwatch, recorded_requests
from test_serve_process import serve

WRITES = [
    "DELETE FROM spans",
    "INSERT INTO spans SELECT * FROM spans",
    "UPDATE log_events SET cost_usd = 0",
    "DROP TABLE spans",
    "CREATE TABLE x AS SELECT 1",
    "COPY spans TO '/tmp/otelwatch-query-test.csv'",
    "ATTACH '/tmp/otelwatch-query-test.duckdb' AS other",
    "CHECKPOINT",
    "PRAGMA table_info('spans')",
    "SET threads = 1",
    "SELECT 1; DELETE FROM spans",
    # DuckDB parses this as a SELECT; only the read-only transaction stops it.
    "WITH gone AS (DELETE FROM spans RETURNING *) SELECT count(*) FROM gone",
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("query") / "q.duckdb", recorded_requests())


def _counts(path: Path) -> tuple[int, ...]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM log_events), "
            "(SELECT sum(cost_usd) FROM log_events)"
        ).fetchone()
    assert row is not None
    return tuple(row)


SQL = (
    "SELECT event_name, count(*) AS n, sum(cost_usd) AS usd FROM log_events "
    "GROUP BY 1 ORDER BY n DESC, event_name"
)


def test_three_formats(db: Path) -> None:
    table = otelwatch("query", SQL, "--db", str(db))
    assert table.code == 0, table.err
    assert "plugin_loaded" in table.out
    assert "0.0758434" in table.out
    assert "7 rows" in table.out

    as_csv = otelwatch("query", SQL, "--db", str(db), "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert parsed[0] == {"event_name": "plugin_loaded", "n": "3", "usd": ""}
    assert {"event_name": "api_request", "n": "2", "usd": "0.0758434"} in parsed

    as_json = json.loads(otelwatch("query", SQL, "--db", str(db), "--format", "json").out)
    assert {"event_name": "api_request", "n": 2, "usd": 0.0758434} in as_json
    nested = json.loads(
        otelwatch(
            "query",
            "SELECT attributes, [1, 2] AS l, 1 AS a, 2 AS a FROM spans LIMIT 1",
            "--db",
            str(db),
            "--format",
            "json",
        ).out
    )
    assert nested[0]["attributes"]["session.id"] == "611ea787-3556-45fb-bd6b-f0b752fb9e87"
    assert (nested[0]["l"], nested[0]["a"], nested[0]["a_2"]) == ([1, 2], 1, 2)


def test_sql_from_stdin_and_limit(db: Path) -> None:
    run = otelwatch("query", "-", "--db", str(db), "--format", "csv", "--limit", "2", stdin=SQL)
    assert run.code == 0
    assert len(run.out.strip().splitlines()) == 3  # header and two rows
    assert "showing the first 2 rows" in run.err


@pytest.mark.parametrize("sql", WRITES)
def test_statements_that_would_write_are_refused(db: Path, sql: str) -> None:
    before = _counts(db)
    run = otelwatch("query", sql, "--db", str(db))
    assert run.code == 2, run
    assert run.out == ""
    assert len(run.err.strip().splitlines()) == 1
    assert "refused" in run.err
    assert _counts(db) == before
    assert not Path("/tmp/otelwatch-query-test.duckdb").exists()


def test_writes_are_refused_on_a_running_instance_too(db: Path, tmp_path: Path) -> None:
    held = tmp_path / "held.duckdb"
    held.write_bytes(db.read_bytes())
    before = _counts(held)
    with serve(held):
        run = otelwatch("query", SQL, "--db", str(held), "--format", "json")
        assert run.code == 0, run.err
        assert {"event_name": "api_request", "n": 2, "usd": 0.0758434} in json.loads(run.out)
        for sql in WRITES:
            refused = otelwatch("query", sql, "--db", str(held))
            assert refused.code == 2, (sql, refused)
            assert "refused" in refused.err
        count = otelwatch("query", "SELECT count(*) AS n FROM spans", "--db", str(held))
        assert count.code == 0
    assert _counts(held) == before


def test_errors_are_one_line(db: Path, tmp_path: Path) -> None:
    for args in (
        ("SELEC 1", "--db", str(db)),
        ("SELECT nosuch FROM spans", "--db", str(db)),
        ("", "--db", str(db)),
        ("SELECT 1", "--db", str(tmp_path / "missing.duckdb")),
        ("SELECT 1", "--db", str(db), "--format", "xml"),
        ("SELECT 1", "--db", str(db), "--limit", "0"),
        ("SELECT 1", "--db", ":memory:"),
    ):
        run = otelwatch("query", *args)
        assert run.code == 2, (args, run)
        assert len(run.err.strip().splitlines()) == 1, (args, run.err)
        assert "Traceback" not in run.err
