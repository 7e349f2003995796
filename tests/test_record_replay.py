"""Recordings in the Collector file-exporter format: serve --record, import and replay."""

from __future__ import annotations

import gzip
import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import start_runtime
from otlp_clients import recorded, send_recorded
from store_files import build_db, otelwatch, recorded_requests
from test_serve_process import serve

from otelwatch.commands.replay import Pacer
from otelwatch.ingest.auth import BearerAuth
from otelwatch.ingest.record import Recorder
from otelwatch.runtime import Runtime, Settings

COLLECTOR_FILE = Path(__file__).parent / "fixtures" / "collector" / "claude-code.jsonl"
TRANSPORTS = ("grpc", "http-protobuf", "http-json")
TOP_KEYS = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}


def rows(db: Path) -> dict[str, Counter[tuple[str, ...]]]:
    """Every stored row but the time it was received, per table, as a multiset."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as conn:
        for table, skip in (
            ("spans", "received_ns"),
            ("log_events", "received_ns"),
            ("metric_points", "received_ns"),
            ("resources", "first_seen_ns"),
        ):
            found = conn.execute(f"SELECT * EXCLUDE ({skip}) FROM {table}").fetchall()
            out[table] = Counter(tuple(str(v) for v in row) for row in found)
    return out


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """The recorded requests of every transport sent to an otelwatch that records them:
    its database, the recording, and the signals in the order they were sent."""
    folder = tmp_path_factory.mktemp("recording")
    db, file = folder / "original.duckdb", folder / "recording.jsonl"
    recorder = Recorder(file)
    runtime = Runtime(
        Settings(db=str(db), host="127.0.0.1", grpc_port=0, http_port=0), recorder=recorder
    )
    runtime.start()
    sent = []
    try:
        assert runtime.grpc_address and runtime.http_address
        for transport in TRANSPORTS:
            for request in recorded(transport):
                send_recorded(runtime.grpc_address, runtime.http_address, request)
                sent.append(request.signal)
    finally:
        runtime.stop()
        recorder.close()
    return db, file, sent


def test_record_writes_one_otlp_json_request_per_line(
    recording: tuple[Path, Path, list[str]],
) -> None:
    _, file, sent = recording
    lines = file.read_bytes().splitlines()
    assert len(lines) == len(sent) == 12
    for line, signal_name in zip(lines, sent, strict=True):
        document = json.loads(line)
        assert list(document) == [TOP_KEYS[signal_name]]
    # OTLP/JSON, not protobuf's JSON mapping: hex ids and integer enums.
    spans = json.loads(lines[sent.index("traces")])["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert all(len(s["traceId"]) == 32 and int(s["traceId"], 16) for s in spans)
    assert all(isinstance(s["kind"], int) for s in spans)


def test_import_of_a_recording_stores_the_same_rows(
    recording: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    original, file, _ = recording
    target = tmp_path / "imported.duckdb"
    run = otelwatch("import", str(file), "--db", str(target))
    assert run.code == 0, run.err
    assert "imported 12 requests: 18 spans, 33 events, 26 metric points" in run.err
    assert rows(target) == rows(original)


def test_import_reads_gzip(recording: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    original, file, _ = recording
    packed = tmp_path / "recording.jsonl.gz"
    packed.write_bytes(gzip.compress(file.read_bytes()))
    target = tmp_path / "from-gzip.duckdb"
    run = otelwatch("import", str(packed), "--db", str(target))
    assert run.code == 0, run.err
    assert rows(target) == rows(original)


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_replay_into_a_second_otelwatch_stores_the_same_rows(
    recording: tuple[Path, Path, list[str]], tmp_path: Path, scheme: str
) -> None:
    original, file, _ = recording
    target = tmp_path / "replayed.duckdb"
    runtime = start_runtime(target)
    try:
        address = runtime.grpc_address if scheme == "grpc" else runtime.http_address
        run = otelwatch("replay", str(file), "--to", f"{scheme}://{address}", "--speed", "max")
    finally:
        runtime.stop()
    assert run.code == 0, run.err
    assert f"sent 12 of 12 requests (77 items) to {scheme}://" in run.err
    assert rows(target) == rows(original)


def test_a_collector_file_imports_like_the_live_requests(tmp_path: Path) -> None:
    live = build_db(tmp_path / "live.duckdb", recorded_requests("grpc"))
    imported = tmp_path / "collector.duckdb"
    run = otelwatch("import", str(COLLECTOR_FILE), "--db", str(imported))
    assert run.code == 0, run.err
    assert rows(imported) == rows(live)
    # And sent to a receiver, it lands the same.
    replayed = tmp_path / "collector-replayed.duckdb"
    runtime = start_runtime(replayed)
    try:
        run = otelwatch(
            "replay", str(COLLECTOR_FILE), "--to", f"grpc://{runtime.grpc_address}", "--speed", "0"
        )
    finally:
        runtime.stop()
    assert run.code == 0, run.err
    assert rows(replayed) == rows(live)


def test_import_keeps_good_lines_and_names_bad_ones(tmp_path: Path) -> None:
    good = COLLECTOR_FILE.read_text().splitlines()
    file = tmp_path / "mixed.jsonl"
    file.write_text(
        "\n".join([good[0], "", "{not json", '{"something": []}', good[1], '{"resourceLogs": 5}'])
        + "\n"
    )
    db = tmp_path / "mixed.duckdb"
    run = otelwatch("import", str(file), "--db", str(db))
    assert run.code == 1
    assert f"{file}:3: not JSON" in run.err
    assert f"{file}:4: no resourceSpans, resourceMetrics or resourceLogs" in run.err
    assert f"{file}:6:" in run.err
    assert "imported 2 requests" in run.err
    assert "3 lines could not be read" in run.err
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM log_events").fetchone() == (5,)


def test_a_file_that_is_not_json_lines_is_refused(tmp_path: Path) -> None:
    proto = tmp_path / "collector-proto.bin"
    body = recorded("grpc")[0].body
    proto.write_bytes(len(body).to_bytes(4, "big") + body)  # the Collector's format: proto
    for command in (("import", "--db", str(tmp_path / "x.duckdb")), ("replay", "--speed", "max")):
        run = otelwatch(command[0], str(proto), *command[1:])
        assert run.code == 1
        assert "is not a JSON Lines recording" in run.err
        assert "Traceback" not in run.err


def test_bad_arguments_give_one_line_and_status_2(tmp_path: Path) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text(COLLECTOR_FILE.read_text())
    for args in (
        ("replay", str(file), "--to", "ftp://127.0.0.1:1"),
        ("replay", str(file), "--to", "grpc://"),
        ("replay", str(file), "--speed", "-1"),
        ("replay", str(file), "--speed", "fast"),
        ("replay", str(tmp_path / "missing.jsonl")),
        ("import", str(tmp_path / "missing.jsonl"), "--db", str(tmp_path / "d.duckdb")),
        ("import", "--db", str(tmp_path / "d.duckdb")),
        ("serve", "--db", str(tmp_path / "s.duckdb"), "--record", str(tmp_path / "no" / "f")),
    ):
        run = otelwatch(*args)
        assert run.code == 2, (args, run)
        assert len(run.err.strip().splitlines()) == 1, (args, run.err)
        assert "Traceback" not in run.err


def test_import_into_a_held_database_says_how_to_send_instead(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    with serve(db):
        run = otelwatch("import", str(COLLECTOR_FILE), "--db", str(db))
    assert run.code == 2
    assert "otelwatch replay" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_a_killed_serve_keeps_every_acknowledged_request_in_the_recording(
    tmp_path: Path,
) -> None:
    file = tmp_path / "killed.jsonl"
    with serve(tmp_path / "k.duckdb", "--record", str(file)) as (proc, grpc_addr, http_addr):
        requests = recorded("grpc")
        for request in requests:
            send_recorded(grpc_addr, http_addr, request)  # each acknowledged
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    lines = file.read_bytes().splitlines()
    assert [next(iter(json.loads(line))) for line in lines] == [
        TOP_KEYS[r.signal] for r in requests
    ]


def test_pacer_follows_the_records_own_clock() -> None:
    second = 1_000_000_000
    at_twice = Pacer(2.0)
    assert [at_twice.due_s(t) for t in (None, 10 * second, 12 * second, 11 * second)] == [
        0.0,
        0.0,
        1.0,  # two seconds of telemetry at twice the speed
        1.0,  # older than what was sent: at once, time does not run backwards
    ]
    assert at_twice.due_s(None) == 1.0
    assert at_twice.due_s(20 * second) == 5.0
    as_fast = Pacer(0.0)
    assert [as_fast.due_s(t) for t in (0, 100 * second)] == [0.0, 0.0]


@pytest.fixture
def no_listener_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_replay_reports_failed_requests(tmp_path: Path, no_listener_port: int) -> None:
    # Nothing listens there: the request fails (retried once), and replay says so.
    file = tmp_path / "one.jsonl"
    file.write_text(COLLECTOR_FILE.read_text().splitlines()[0] + "\n")
    run = otelwatch(
        "replay", str(file), "--to", f"http://127.0.0.1:{no_listener_port}", "--speed", "max",
        "--retries", "1",
    )  # fmt: skip
    assert run.code == 1
    assert "sent 0 of 1 requests" in run.err
    assert "1 failed" in run.err


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_replay_sends_the_auth_token(tmp_path: Path, scheme: str) -> None:
    runtime = start_runtime(tmp_path / "auth.duckdb", auth=BearerAuth("s3cret-token"))
    try:
        address = runtime.grpc_address if scheme == "grpc" else runtime.http_address
        target = ("--to", f"{scheme}://{address}", "--speed", "max")
        refused = otelwatch("replay", str(COLLECTOR_FILE), *target)
        assert refused.code == 1
        assert "sent 0 of 5 requests" in refused.err
        run = otelwatch("replay", str(COLLECTOR_FILE), *target, "--auth-token", "s3cret-token")
        assert run.code == 0, run.err
        assert "sent 5 of 5 requests" in run.err
        assert runtime.reader().table_counts().items == 6 + 11 + 12
    finally:
        runtime.stop()
