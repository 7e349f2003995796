"""Checkpoints happen off the commit path, and lose nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import query, start_runtime

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import traces_request
from otelwatch.store import checkpointer


def test_the_log_is_checkpointed_by_the_checkpointer_not_by_commits(tmp_path: Path) -> None:
    db = tmp_path / "ck.duckdb"
    runtime = start_runtime(db)
    try:
        assert runtime.writer is not None and runtime.checkpointer is not None
        assert query(runtime, "SELECT current_setting('checkpoint_threshold')") == [("256.0 MiB",)]
        bodies = [traces_request(500, seed=s).SerializeToString() for s in range(4)]
        sent = 0
        # Well past the 16 MiB at which the checkpointer steps in.
        written = 0
        while written < 3 * checkpointer.WAL_BYTES:
            batch = otlp_proto.decode_traces(bodies[sent % 4], time.time_ns())
            batch.spans = [(r[0], f"{sent:08x}{i:08x}", *r[2:]) for i, r in enumerate(batch.spans)]
            runtime.writer.write(batch)
            written += len(bodies[sent % 4])
            sent += 1
        # The checkpointer catches up by itself, without another commit to trigger DuckDB's own.
        deadline = time.monotonic() + 60
        while (
            os.path.getsize(f"{db}.wal") >= checkpointer.WAL_BYTES and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert os.path.getsize(f"{db}.wal") < checkpointer.WAL_BYTES
        assert runtime.checkpointer.checkpoints >= 1
    finally:
        runtime.stop()
    again = start_runtime(db)
    try:
        assert query(again, "SELECT count(*) FROM spans") == [(sent * 500,)]
    finally:
        again.stop()


def test_checkpoints_wait_for_a_quiet_moment_unless_the_log_is_big_or_old() -> None:
    policy = checkpointer.Checkpointer.due
    ck = object.__new__(checkpointer.Checkpointer)  # the policy reads no state
    mib = 1024 * 1024
    assert not policy(ck, 0, 1000.0, 1000.0)  # nothing to write
    assert not policy(ck, 5 * mib, 10.0, 0.1)  # busy, small and young: later
    assert policy(ck, 5 * mib, 10.0, checkpointer.QUIET_S)  # the writer rests: now
    assert policy(ck, checkpointer.WAL_BYTES, 1.0, 0.0)  # big, even while busy
    assert policy(ck, 1, checkpointer.MAX_AGE_S, 0.0)  # old, even while busy
