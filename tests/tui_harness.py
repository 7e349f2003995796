"""Test helpers for the dashboard: a real store filled through the real ingest path."""

from __future__ import annotations

from pathlib import Path

from otlp_clients import recorded

from otelwatch.ingest import otlp_json, otlp_proto
from otelwatch.store import database
from otelwatch.store.reader import Reader
from otelwatch.store.writer import Writer

# A fixed clock for the screens: shortly after the recorded session.
RECORDED_NOW_NS = 1_795_472_760_000_000_000


def store_with(path: Path, requests: list[tuple[str, str, bytes]]) -> Reader:
    """A database at ``path`` holding ``requests`` (signal, encoding, body), written by the
    real writer; returns a Reader on it. The writer is closed; the connection stays open."""
    conn = database.connect(path)
    writer = Writer(conn)
    writer.start()
    decoders = {
        ("traces", "protobuf"): otlp_proto.decode_traces,
        ("logs", "protobuf"): otlp_proto.decode_logs,
        ("metrics", "protobuf"): otlp_proto.decode_metrics,
        ("traces", "json"): otlp_json.decode_traces,
        ("logs", "json"): otlp_json.decode_logs,
        ("metrics", "json"): otlp_json.decode_metrics,
    }
    for signal, encoding, body in requests:
        writer.write(decoders[(signal, encoding)](body, RECORDED_NOW_NS))
    writer.close()
    return Reader(conn)


def recorded_store(path: Path) -> Reader:
    """The recorded Claude Code session (gRPC capture)."""
    return store_with(path, [(r.signal, "protobuf", r.body) for r in recorded("grpc")])
