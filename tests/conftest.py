from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from otelwatch.ingest.limits import Limits
from otelwatch.runtime import Runtime, Settings


def start_runtime(db: Path | str, **overrides: object) -> Runtime:
    """A runtime listening on free loopback ports."""
    settings = Settings(db=str(db), host="127.0.0.1", grpc_port=0, http_port=0, **overrides)  # type: ignore[arg-type]
    runtime = Runtime(settings)
    runtime.start()
    return runtime


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "otelwatch.duckdb"


@pytest.fixture
def runtime(db_path: Path) -> Iterator[Runtime]:
    """A started runtime on a fresh database file."""
    rt = start_runtime(db_path)
    yield rt
    rt.stop()


@pytest.fixture
def small_runtime(db_path: Path) -> Iterator[Runtime]:
    """A started runtime with a 64 KiB request limit, for the size tests."""
    rt = start_runtime(db_path, limits=Limits(max_request_bytes=64 * 1024))
    yield rt
    rt.stop()


def query(
    runtime: Runtime, sql: str, params: list[object] | None = None
) -> list[tuple[object, ...]]:
    """Run SQL on the runtime's database through its own connection (a new cursor)."""
    assert runtime.conn is not None
    with runtime.conn.cursor() as cur:
        return cur.execute(sql, params or []).fetchall()


def read_file(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Run SQL on a database file that no process holds open."""
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()
