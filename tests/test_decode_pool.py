"""Decoding in worker processes: the same rows, errors that keep their status, workers that die."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from conftest import query, start_runtime
from otlp_clients import grpc_export, http_request, recorded, send_recorded

from otelwatch.ingest import redact
from otelwatch.ingest.decode_pool import DecodePool
from otelwatch.ingest.decoding import Decoding
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.runtime import Runtime

TABLES = ("spans", "log_events", "metric_points", "resources")


def _contents(runtime: Runtime) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, without the receive times, in a stable order."""
    out = {}
    for table in TABLES:
        rows = query(runtime, f"SELECT * EXCLUDE ({_times(table)}) FROM {table} ORDER BY ALL")
        out[table] = rows
    return out


def _times(table: str) -> str:
    return "first_seen_ns" if table == "resources" else "received_ns"


def _send_everything(runtime: Runtime) -> None:
    assert runtime.grpc_address and runtime.http_address
    for transport in ("grpc", "http-protobuf", "http-json"):
        for request in recorded(transport):
            send_recorded(runtime.grpc_address, runtime.http_address, request)


def test_workers_store_exactly_what_the_server_itself_would(tmp_path: Path) -> None:
    stores = {}
    for workers in (0, 2):
        runtime = start_runtime(tmp_path / f"w{workers}.duckdb", decode_workers=workers)
        try:
            assert (runtime.decode_pool is not None) == bool(workers)
            if runtime.decode_pool is not None:
                _wait_until_ready(runtime.decode_pool)
            _send_everything(runtime)
            stores[workers] = _contents(runtime)
        finally:
            runtime.stop()
    assert stores[2] == stores[0]
    assert len(stores[2]["spans"]) == 18


def _wait_until_ready(pool: DecodePool) -> None:
    deadline = time.monotonic() + 60
    while not pool.ready:
        assert time.monotonic() < deadline, "the decoder processes never started"
        time.sleep(0.05)


def test_decode_errors_keep_their_status_across_processes(tmp_path: Path) -> None:
    runtime = start_runtime(tmp_path / "e.duckdb", decode_workers=1)
    try:
        assert runtime.decode_pool is not None
        _wait_until_ready(runtime.decode_pool)
        assert runtime.grpc_address and runtime.http_address
        answer = grpc_export(runtime.grpc_address, "traces", b"\x0a\xff\xff\xff\xff\x0f junk")
        assert answer.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid ExportTraceServiceRequest" in answer.details
        assert "otelwatch.wire" not in answer.details  # the internal class name is not shown
        reply = http_request(
            runtime.http_address,
            "/v1/logs",
            b'{"resourceLogs": 7}',
            {"Content-Type": "application/json"},
        )
        assert reply.status == 400
        assert b"resourceLogs must be a list" in reply.body
    finally:
        runtime.stop()


def _worker_pids(pool: DecodePool) -> list[int]:
    # The executor's own record of its processes: they are children of the fork server, not
    # of this process, so nothing public lists them.
    return [p.pid for p in pool._executor._processes.values() if p.pid]  # type: ignore[attr-defined]


def test_a_dead_worker_is_replaced_and_loses_nothing(tmp_path: Path) -> None:
    runtime = start_runtime(tmp_path / "d.duckdb", decode_workers=2)
    try:
        pool = runtime.decode_pool
        assert pool is not None
        _wait_until_ready(pool)
        assert runtime.grpc_address and runtime.http_address
        traces = next(r for r in recorded("grpc") if r.signal == "traces")
        send_recorded(runtime.grpc_address, runtime.http_address, traces)
        for pid in _worker_pids(pool):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        # The next requests find the pool broken, replace it, and go through.
        for request in recorded("http-json"):
            send_recorded(runtime.grpc_address, runtime.http_address, request)
        assert query(runtime, "SELECT count(*) FROM spans") == [(12,)]
    finally:
        runtime.stop()


def test_a_worker_dying_under_a_request_costs_the_request_nothing() -> None:
    pool = DecodePool(Decoding(), 1)
    pool.start()
    try:
        body = next(r for r in recorded("grpc") if r.signal == "traces").body
        results = []

        def decode_many() -> None:
            for _ in range(200):
                results.append(pool(Signal.TRACES, Encoding.PROTOBUF, body, 1))

        sender = threading.Thread(target=decode_many)
        sender.start()
        time.sleep(0.05)
        for pid in _worker_pids(pool):
            os.kill(pid, signal.SIGKILL)
        sender.join(60)
        assert len(results) == 200
        assert all(batch.span_count == 6 for batch in results)
    finally:
        pool.close()


def test_limits_and_redaction_run_in_the_workers(tmp_path: Path) -> None:
    runtime = start_runtime(
        tmp_path / "r.duckdb", decode_workers=1, redact=redact.parse("tool-input")
    )
    try:
        assert runtime.decode_pool is not None
        _wait_until_ready(runtime.decode_pool)
        _send_everything(runtime)
        rows = query(
            runtime,
            "SELECT count(*) FROM log_events WHERE attributes->>'tool_parameters' IS NOT NULL",
        )
        assert rows == [(0,)]
        redacted = query(
            runtime, "SELECT count(*) FROM log_events WHERE attributes LIKE '%otelwatch.redacted%'"
        )
        assert redacted[0][0] > 0
    finally:
        runtime.stop()


def test_workers_that_cannot_start_leave_decoding_to_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A step that cannot be sent to another process, as a system that forbids starting one
    # would: the pool gives up and says so, and requests are decoded in the caller's thread.
    unpicklable = Decoding(prepare=lambda batch: None)
    pool = DecodePool(unpicklable, 1)
    with caplog.at_level(logging.WARNING):
        pool.start_in_background().join(60)
    assert "decoder processes did not start" in caplog.text
    assert not pool.ready
    traces = next(r for r in recorded("grpc") if r.signal == "traces")
    assert pool(Signal.TRACES, Encoding.PROTOBUF, traces.body, 1).span_count > 0
    pool.close()


_START_WITH_AN_INTERPRETER_THAT_DOES_NOT_RUN = """
import gc, logging, multiprocessing, sys
from pathlib import Path
from otelwatch.ingest.decode_pool import DecodePool
from otelwatch.ingest.decoding import Decoding
from otelwatch.ingest.signals import Encoding, Signal

logging.basicConfig(format="%(levelname)s: %(message)s")
multiprocessing.set_executable(sys.argv[1])
pool = DecodePool(Decoding(), 2)
pool.start_in_background().join(60)
body = Path(sys.argv[2]).read_bytes()
print(pool.ready, pool(Signal.TRACES, Encoding.PROTOBUF, body, 1).span_count)
pool.close()
del pool
gc.collect()
"""


def test_an_interpreter_that_cannot_be_run_again_is_one_warning_not_tracebacks(
    tmp_path: Path,
) -> None:
    # As where otelwatch runs as a user who cannot reach its own interpreter's path: starting
    # the workers fails in a fresh process. multiprocessing alone would leave semaphores whose
    # clean-up prints tracebacks later; the pool must say why once and decode in the server.
    not_runnable = tmp_path / "python"
    not_runnable.write_text("")
    not_runnable.chmod(0o644)
    body = tmp_path / "traces.bin"
    body.write_bytes(next(r for r in recorded("grpc") if r.signal == "traces").body)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _START_WITH_AN_INTERPRETER_THAT_DOES_NOT_RUN,
            str(not_runnable),
            str(body),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ready, spans = result.stdout.split()
    assert ready == "False"
    assert int(spans) > 0
    assert result.stderr.splitlines() == [
        "WARNING: decoding in the server itself: decoder processes did not start "
        f"([Errno 13] Permission denied: '{not_runnable}')"
    ]
