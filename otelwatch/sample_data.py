"""A database filled from the simulator, for the screenshots and the dashboard's tests.

The simulator's requests go through the real decoders and the real writer, exactly as if they had
arrived on a listener; the same seed and start time give the same database.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import DEFAULT_START_NS, Export, Simulator
from otelwatch.store import database
from otelwatch.store.writer import Writer

_DECODERS = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}


def simulated_exports(
    seconds: float,
    *,
    seed: int = 7,
    sessions: int = 4,
    start_ns: int = DEFAULT_START_NS,
    metrics_interval_s: float = 10.0,
) -> list[Export]:
    """The requests ``sessions`` simulated Claude Code sessions send in their first ``seconds``."""
    sim = Simulator(
        seed=seed,
        sessions=sessions,
        start_ns=start_ns,
        traces_interval_s=2.0,
        logs_interval_s=2.0,
        metrics_interval_s=metrics_interval_s,
    )
    return sim.advance(seconds)


def write_exports(conn: duckdb.DuckDBPyConnection, exports: list[Export]) -> int:
    """Decode and store ``exports`` with the real writer; the number of items written."""
    writer = Writer(conn)
    writer.start()
    try:
        for export in exports:
            # Received as it was sent: the simulated clock stands in for the receiver's.
            writer.write(_DECODERS[export.signal](export.body(), export.time_ns))
    finally:
        writer.close()
    return sum(export.items for export in exports)


def simulated_database(path: str | Path, seconds: float, **options: int | float) -> Path:
    """Create ``path`` with ``seconds`` of simulated telemetry (see :func:`simulated_exports`)."""
    conn = database.connect(path)
    try:
        write_exports(conn, simulated_exports(seconds, **options))  # type: ignore[arg-type]
    finally:
        conn.close()
    return Path(path)
