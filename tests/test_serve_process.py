"""``otelwatch serve`` as a real process: durability, draining, and clear errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from conftest import read_file, start_runtime
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import grpc_export, http_request, recorded, send_recorded
from store_files import start_serve

OTELWATCH = [sys.executable, "-m", "otelwatch"]


def _request(batch: int, size: int = 20) -> bytes:
    """A traces request whose span ids encode (batch, index), so stored ids can be checked."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for i in range(size):
        span = spans.spans.add()
        span.trace_id = batch.to_bytes(16, "big")
        span.span_id = (batch * 1000 + i + 1).to_bytes(8, "big")
        span.name = f"span {i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_000_100_000_000
    return request.SerializeToString()


@contextmanager
def serve(db: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    proc, grpc_addr, http_addr = start_serve(db, *extra)
    try:
        yield proc, grpc_addr, http_addr
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def _load(grpc_addr: str, acked: list[int], stop: threading.Event, first: int) -> None:
    batch = first
    while not stop.is_set():
        answer = grpc_export(grpc_addr, "traces", _request(batch), timeout=5)
        if answer.code == grpc.StatusCode.OK:
            acked.append(batch)
        elif answer.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            return  # the server is going away
        batch += 1


def _stored_batches(db: Path) -> set[int]:
    rows = read_file(db, "SELECT DISTINCT trace_id FROM spans")
    return {int(str(trace_id), 16) for (trace_id,) in rows}


@pytest.mark.slow
def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "kill.duckdb"
    acked: list[int] = []
    stop = threading.Event()
    with serve(db) as (proc, grpc_addr, _):
        senders = [
            threading.Thread(target=_load, args=(grpc_addr, acked, stop, k * 1_000_000 + 1))
            for k in range(4)
        ]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # while the senders are still sending
        proc.wait(10)
        stop.set()
        for t in senders:
            t.join(10)
    assert len(acked) >= 200
    stored = _stored_batches(db)
    assert set(acked) <= stored
    # Every stored batch is whole: a request is committed entirely or not at all.
    counts = read_file(db, "SELECT trace_id, count(*) FROM spans GROUP BY 1")
    assert {n for _, n in counts} == {20}


@pytest.mark.slow
def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    db = tmp_path / "term.duckdb"
    acked: list[int] = []
    stop = threading.Event()
    with serve(db) as (proc, grpc_addr, _):
        senders = [
            threading.Thread(target=_load, args=(grpc_addr, acked, stop, k * 1_000_000 + 1))
            for k in range(4)
        ]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        stop.set()
        for t in senders:
            t.join(10)
    assert proc.returncode == 0, err
    assert re.search(r"stored \d+ spans", out)
    assert set(acked) <= _stored_batches(db)
    assert "Traceback" not in err


def test_restart_keeps_acknowledged_data(db_path: Path) -> None:
    runtime = start_runtime(db_path)
    assert runtime.grpc_address and runtime.http_address
    for request in recorded("http-json"):
        send_recorded(runtime.grpc_address, runtime.http_address, request)
    runtime.stop()
    again = start_runtime(db_path)
    try:
        assert again.reader().table_counts().items == 6 + 11 + 7
        # The same data sent again (an exporter retry after a restart) is stored once more only
        # if it is new to this process; either way the first copy is intact.
        assert again.reader().table_counts().spans == 6
    finally:
        again.stop()


def test_second_instance_on_the_same_database_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    with serve(db):
        result = subprocess.run(
            [*OTELWATCH, "serve", "--db", str(db), "--grpc-port", "0", "--http-port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "in use by another otelwatch" in lines[0]


@pytest.mark.parametrize("flag", ["--grpc-port", "--http-port"])
def test_port_in_use_is_a_one_line_error(tmp_path: Path, flag: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--http-port" if flag == "--grpc-port" else "--grpc-port"
        result = subprocess.run(
            [*OTELWATCH, "serve", "--db", str(tmp_path / "p.duckdb"), flag, str(port), other, "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{port}" in lines[0]
    assert lines[0].startswith("otelwatch: error: cannot listen on")


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--grpc-port", "seventy"],
        ["serve", "--http-port", "70000"],
        ["serve", "--max-request-size", "lots"],
        ["env", "--protocol", "carrier-pigeon"],
        ["no-such-command"],
        ["--no-such-flag"],
        ["--db"],
        ["--db", "/tmp/x.duckdb", "serve"],  # would be ignored: serve's own --db wins
        ["--grpc-port=4999", "query", "SELECT 1"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str]) -> None:
    result = subprocess.run([*OTELWATCH, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_reader_that_goes_away_is_not_an_error() -> None:
    # `otelwatch env | head -1`: the pipe closes while otelwatch still writes.
    proc = subprocess.Popen(
        [*OTELWATCH, "env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    error = proc.stderr.read()
    assert proc.wait(60) == 0, error
    assert "Traceback" not in error


def test_version_and_help() -> None:
    from otelwatch import __version__

    version = subprocess.run([*OTELWATCH, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0
    assert version.stdout.strip() == f"otelwatch {__version__}"
    for args in (["--help"], ["serve", "--help"], ["env", "--help"]):
        shown = subprocess.run([*OTELWATCH, *args], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0
        assert "usage: otelwatch" in shown.stdout


def test_env_points_claude_code_at_the_listener() -> None:
    result = subprocess.run(
        [*OTELWATCH, "env", "--grpc-port", "14317"], capture_output=True, text=True, timeout=60
    )
    env = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.strip().splitlines()
    )
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1"
    assert env["OTEL_TRACES_EXPORTER"] == env["OTEL_LOGS_EXPORTER"] == "otlp"
    assert env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:14317"
    http = subprocess.run(
        [*OTELWATCH, "env", "--protocol", "http/json"], capture_output=True, text=True, timeout=60
    )
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" in http.stdout
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/json" in http.stdout


def test_env_output_works_in_a_shell(tmp_path: Path) -> None:
    script = f'eval "$({" ".join(OTELWATCH)} env)" && echo "$OTEL_EXPORTER_OTLP_ENDPOINT"'
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "http://127.0.0.1:4317"


def test_serve_answers_http_while_running(tmp_path: Path) -> None:
    with serve(tmp_path / "h.duckdb") as (_proc, _grpc, http_addr):
        reply = http_request(
            http_addr, "/v1/traces", _request(1), {"Content-Type": "application/x-protobuf"}
        )
        assert reply.status == 200


def test_ctrl_c_is_handled_like_sigterm(tmp_path: Path) -> None:
    with serve(tmp_path / "c.duckdb") as (proc, grpc_addr, _):
        assert grpc_export(grpc_addr, "traces", _request(7)).code == grpc.StatusCode.OK
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stored 20 spans" in out
    assert _stored_batches(tmp_path / "c.duckdb") == {7}


def test_unusable_database_path_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello")
    result = subprocess.run(
        [*OTELWATCH, "serve", "--db", str(not_a_db), "--grpc-port", "0", "--http-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot" in result.stderr
