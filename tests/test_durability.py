"""Durability on real faults: a disk that fills up, a database that becomes read-only, kill -9.

The disk is a real tmpfs of a few MiB, mounted for the test (root only: skipped, and saying so,
where ``mount`` is not allowed). The read-only database is a real directory made read-only under
a server running as ``nobody`` (root ignores permissions). Nothing is simulated in otelwatch.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import read_file, start_runtime
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import grpc_export, http_request
from store_files import start_serve

OTELWATCH = [sys.executable, "-m", "otelwatch"]
RETRYABLE_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
RETRYABLE_HTTP = {429, 503}


def _request(batch: int, spans: int = 50, payload: int = 2000) -> bytes:
    """A request whose trace id is ``batch``; random-ish payload so it does not compress away."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    filler = os.urandom(payload // 2).hex()
    for i in range(spans):
        span = scope.spans.add()
        span.trace_id = batch.to_bytes(16, "big")
        span.span_id = (batch * 10_000 + i + 1).to_bytes(8, "big")
        span.name = f"span {i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_000_100_000_000
        attribute = span.attributes.add()
        attribute.key = "filler"
        attribute.value.string_value = filler
    return request.SerializeToString()


def _stored_batches(db: Path) -> dict[int, int]:
    rows = read_file(db, "SELECT trace_id, count(*) FROM spans GROUP BY 1")
    return {int(str(trace), 16): int(str(n)) for trace, n in rows}


# ---------------------------------------------------------------- a disk that fills up


def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    _mount_tmpfs(where, "6m")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.slow
def test_a_full_disk_refuses_with_a_retryable_status_and_recovers(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = small_disk / "full.duckdb"
    runtime = start_runtime(db)
    assert runtime.grpc_address and runtime.http_address
    acknowledged: list[int] = []
    refusals: list[str] = []
    try:
        batch = 0
        # Fill the disk, alternating gRPC and HTTP; stop after a run of refusals.
        while len(refusals) < 6 and batch < 400:
            batch += 1
            body = _request(batch)
            if batch % 2:
                answer = grpc_export(runtime.grpc_address, "traces", body, timeout=30)
                ok = answer.code == grpc.StatusCode.OK
                assert ok or answer.code in RETRYABLE_GRPC, answer
                status = answer.code.name
                detail = answer.details
            else:
                reply = http_request(
                    runtime.http_address,
                    "/v1/traces",
                    body,
                    {"Content-Type": "application/x-protobuf"},
                    timeout=30,
                )
                ok = reply.status == 200
                assert ok or reply.status in RETRYABLE_HTTP, reply
                status = str(reply.status)
                detail = reply.body.decode(errors="replace")
            if ok:
                acknowledged.append(batch)
            else:
                refusals.append(status)
                if status in ("UNAVAILABLE", "503"):
                    assert "No space left on device" in detail, detail
        assert refusals, "the disk never filled up"
        assert acknowledged
        assert set(refusals) <= {"UNAVAILABLE", "503", "RESOURCE_EXHAUSTED", "429"}
        assert any("No space left on device" in r.message for r in caplog.records)

        # Make room (the same data is kept): writing resumes by itself.
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
        time.sleep(1.1)  # the writer refuses at once for a second after a failure
        batch += 1
        answer = grpc_export(runtime.grpc_address, "traces", _request(batch), timeout=30)
        assert answer.code == grpc.StatusCode.OK, answer
        acknowledged.append(batch)
    finally:
        runtime.stop()
    stored = _stored_batches(db)
    # Everything acknowledged is there, whole; nothing refused was half-written.
    assert set(acknowledged) <= set(stored)
    assert set(stored.values()) == {50}


# ---------------------------------------------------------------- a read-only database


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the server as another user")
    # Not under pytest's tmp_path: its parents are private to root, and nobody must reach it.
    where = Path(tempfile.mkdtemp(prefix="otelwatch-ro-"))
    os.chown(where, 65534, 65534)
    yield where
    where.chmod(0o755)
    shutil.rmtree(where, ignore_errors=True)


def _serve_as_nobody(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    return start_serve(
        db,
        "--retention",
        "off",
        "--max-db-size",
        "off",
        prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
        env={**os.environ, "HOME": str(db.parent)},
    )


@pytest.mark.slow
def test_a_database_that_becomes_read_only_is_refused_clearly(nobody_dir: Path) -> None:
    db = nobody_dir / "ro.duckdb"
    proc, grpc_addr, http_addr = _serve_as_nobody(db)
    acknowledged: list[int] = []
    try:
        for batch in range(1, 6):
            assert grpc_export(grpc_addr, "traces", _request(batch)).code == grpc.StatusCode.OK
            acknowledged.append(batch)
        # The directory and the files become read-only while otelwatch runs. Commits append to
        # the open write-ahead log until DuckDB checkpoints (at 16 MiB of log), which must
        # delete the log: that fails, and DuckDB gives up on the database.
        for path in [nobody_dir, *nobody_dir.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        refused = None
        batch = 5
        while refused is None and batch < 400:
            batch += 1
            answer = grpc_export(grpc_addr, "traces", _request(batch, payload=8000), timeout=30)
            if answer.code == grpc.StatusCode.OK:
                acknowledged.append(batch)
            else:
                assert answer.code == grpc.StatusCode.UNAVAILABLE, answer
                refused = answer
        assert refused is not None, "the database never refused a write"
        # Which part of DuckDB meets the read-only files first decides the outcome: a failed
        # checkpoint invalidates the database (refused until restart), a failed commit only
        # refuses that commit (refused until it can write again). Both refuse retryably and say so.
        assert "restart" in refused.details or "until it can" in refused.details, refused
        # From now on both listeners refuse at once, with retryable statuses.
        again = grpc_export(grpc_addr, "traces", _request(1000))
        assert again.code == grpc.StatusCode.UNAVAILABLE
        reply = http_request(
            http_addr, "/v1/traces", _request(1001), {"Content-Type": "application/x-protobuf"}
        )
        assert reply.status == 503
        assert reply.headers.get("retry-after")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for path in [nobody_dir, *nobody_dir.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert len(errors) == 1, err  # said once, clearly, not once per request
    assert "can no longer be written" in errors[0] or "cannot write the database" in errors[0]
    assert "Traceback" not in err
    stored = _stored_batches(db)
    assert set(acknowledged) <= set(stored)
    assert set(stored.values()) == {50}


def test_a_read_only_database_file_at_start_is_a_one_line_error(nobody_dir: Path) -> None:
    db = nobody_dir / "locked.duckdb"
    runtime = start_runtime(db)
    runtime.stop()
    db.chmod(0o444)
    nobody_dir.chmod(0o555)
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            *OTELWATCH,
            "serve",
            "--db",
            str(db),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(nobody_dir)},
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot" in result.stderr
    assert "Permission denied" in result.stderr


# ---------------------------------------------------------------- kill -9 over HTTP


def _http_load(address: str, acked: list[int], stop: threading.Event, first: int) -> None:
    batch = first
    while not stop.is_set():
        try:
            reply = http_request(
                address,
                "/v1/traces",
                _request(batch, spans=20, payload=200),
                {"Content-Type": "application/x-protobuf"},
                timeout=5,
            )
        except OSError:
            return  # the server is gone
        if reply.status == 200:
            acked.append(batch)
        batch += 1


@pytest.mark.slow
def test_kill_9_under_http_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "kill.duckdb"
    proc, _, http_addr = start_serve(db, "-q")
    acked: list[int] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=_http_load, args=(http_addr, acked, stop, k * 1_000_000 + 1))
        for k in range(4)
    ]
    for t in senders:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in senders:
        t.join(10)
    assert len(acked) >= 200
    stored = _stored_batches(db)
    assert set(acked) <= set(stored)
    assert set(stored.values()) == {20}
