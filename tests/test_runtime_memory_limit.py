"""DuckDB's memory limit: set for file databases, not for ':memory:' (it would cap the data)."""

from __future__ import annotations

from pathlib import Path

from otelwatch.runtime import DUCKDB_MEMORY_LIMIT, Runtime, Settings
from otelwatch.store import database


def _limit(runtime: Runtime) -> str:
    assert runtime.conn is not None
    row = runtime.conn.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def _mib(setting: str) -> float:
    number, unit = setting.split()
    return float(number) * {"MiB": 1, "GiB": 1024}[unit]


def test_a_file_database_gets_the_memory_limit(tmp_path: Path) -> None:
    runtime = Runtime(Settings(db=str(tmp_path / "m.duckdb"), listen=False))
    runtime.start()
    try:
        # DuckDB reports 256 MB as 244.1 MiB.
        assert abs(_mib(_limit(runtime)) * 1024 * 1024 - int(DUCKDB_MEMORY_LIMIT[:-2]) * 1e6) < 1e6
    finally:
        runtime.stop()


def test_an_in_memory_database_keeps_duckdbs_default(tmp_path: Path) -> None:
    runtime = Runtime(Settings(db=database.MEMORY, listen=False))
    runtime.start()
    try:
        assert _mib(_limit(runtime)) > 1024
    finally:
        runtime.stop()
