"""``--redact``: content never reaches the database file, whatever the transport."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from conftest import query, read_file, start_runtime
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from otlp_clients import grpc_export, http_request
from store_files import start_serve

from otelwatch.ingest import redact
from otelwatch.ingest.otlp_json_encode import encode as encode_json

OTELWATCH = [sys.executable, "-m", "otelwatch"]
# One secret per category, each where Claude Code puts it.
SECRETS = {
    "prompts": "SECRET-PROMPT-7f3a",
    "responses": "SECRET-RESPONSE-91bc",
    "tool-input": "SECRET-COMMAND-52de",
    "tool-output": "SECRET-OUTPUT-c0ff",
    "api-bodies": "SECRET-BODY-e4a1",
}


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _logs(n: int) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for event, pairs in [
        ("user_prompt", [("prompt", "prompts"), ("prompt_text", "prompts")]),
        ("assistant_response", [("response", "responses")]),
        ("tool_result", [("tool_parameters", "tool-input"), ("error", "tool-output")]),
        ("api_request_body", [("body", "api-bodies")]),
    ]:
        record = records.add()
        record.time_unix_nano = 1_700_000_000_000_000_000 + n
        record.body.string_value = f"claude_code.{event}"
        record.attributes.append(_kv("event.name", event))
        record.attributes.append(_kv("session.id", f"session-{n}"))
        for key, category in pairs:
            secret = SECRETS[category]
            value = json.dumps({"full_command": secret}) if key == "tool_parameters" else secret
            record.attributes.append(_kv(key, f"{value} #{n}"))
    return request


def _traces(n: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    root = spans.add()
    root.trace_id, root.span_id, root.name = n.to_bytes(16, "big"), b"\x01" * 8, "interaction"
    root.attributes.append(_kv("user_prompt", f"{SECRETS['prompts']} #{n}"))
    tool = spans.add()
    tool.trace_id, tool.span_id, tool.parent_span_id = (
        n.to_bytes(16, "big"),
        b"\x02" * 8,
        b"\x01" * 8,
    )
    tool.name = "claude_code.tool"
    tool.attributes.append(_kv("tool_name", "Bash"))
    tool.attributes.append(_kv("full_command", f"{SECRETS['tool-input']} #{n}"))
    event = tool.events.add()
    event.name = "tool.output"
    event.attributes.append(_kv("output", f"{SECRETS['tool-output']} #{n}"))
    return request


def _send_all(grpc_addr: str, http_addr: str) -> None:
    for n, (signal_name, request) in enumerate(
        [("logs", _logs(1)), ("traces", _traces(2)), ("logs", _logs(3)), ("traces", _traces(4))]
    ):
        if n % 2:
            body = request.SerializeToString()
            assert grpc_export(grpc_addr, signal_name, body).code == grpc.StatusCode.OK
        else:
            reply = http_request(
                http_addr,
                f"/v1/{signal_name}",
                encode_json(request),
                {"Content-Type": "application/json"},
            )
            assert reply.status == 200


def _serve_and_kill(db: Path, *extra: str) -> None:
    """Serve, send everything, then kill -9: the data is in the write-ahead log, uncompressed."""
    proc, grpc_addr, http_addr = start_serve(db, *extra)
    try:
        _send_all(grpc_addr, http_addr)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def _raw_files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_the_scan_finds_content_when_nothing_is_redacted(tmp_path: Path) -> None:
    # The control: without --redact every secret is in the files, so their absence below means
    # something.
    db = tmp_path / "open.duckdb"
    _serve_and_kill(db)
    raw = _raw_files(db)
    for secret in SECRETS.values():
        assert secret.encode() in raw


@pytest.mark.parametrize("mode", ["drop", "hash"])
def test_redact_all_keeps_content_out_of_the_database_file(tmp_path: Path, mode: str) -> None:
    db = tmp_path / f"redacted-{mode}.duckdb"
    _serve_and_kill(db, "--redact", "all", "--redact-mode", mode)
    raw = _raw_files(db)
    for secret in SECRETS.values():
        assert secret.encode() not in raw
    # And after recovery from the log, through SQL: every table, every text.
    dump = json.dumps(
        [
            read_file(db, f"SELECT * FROM {table}")
            for table in ("spans", "log_events", "metric_points", "resources")
        ],
        default=str,
    )
    assert not any(secret in dump for secret in SECRETS.values())
    # What was redacted is said, and the rest of each item is intact.
    rows = read_file(db, "SELECT event_name, session_id, attributes FROM log_events")
    assert len(rows) == 8
    for event_name, session_id, attributes in rows:
        assert event_name and session_id
        assert json.loads(str(attributes))[redact.REDACTED]
    if mode == "hash":
        prompts = [json.loads(str(a))["prompt"] for e, _, a in rows if e == "user_prompt"]
        assert all(re.fullmatch(r"sha256:[0-9a-f]{16}", p) for p in prompts)
        assert prompts[0] != prompts[1]  # different prompts, different hashes


def test_only_the_named_categories_are_redacted(tmp_path: Path) -> None:
    runtime = start_runtime(tmp_path / "some.duckdb", redact=redact.parse("prompts,tool-input"))
    try:
        assert runtime.grpc_address and runtime.http_address
        _send_all(runtime.grpc_address, runtime.http_address)
        dump = json.dumps(query(runtime, "SELECT attributes, events FROM spans")) + json.dumps(
            query(runtime, "SELECT attributes FROM log_events")
        )
    finally:
        runtime.stop()
    assert SECRETS["prompts"] not in dump
    assert SECRETS["tool-input"] not in dump
    assert SECRETS["responses"] in dump
    assert SECRETS["tool-output"] in dump
    assert SECRETS["api-bodies"] in dump


def test_redaction_categories() -> None:
    assert redact.parse("prompts").keys == redact.CATEGORIES["prompts"]
    assert redact.parse("all").categories == tuple(redact.CATEGORIES)
    assert redact.parse(" Tool-Input , prompts ").categories == ("prompts", "tool-input")
    with pytest.raises(redact.InvalidRedaction, match="passwords"):
        redact.parse("prompts,passwords")


def test_unknown_category_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*OTELWATCH, "serve", "--db", str(tmp_path / "x.duckdb"), "--redact", "secrets"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "prompts" in result.stderr  # says what the choices are


def test_record_and_redact_together_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *OTELWATCH,
            "serve",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--redact",
            "prompts",
            "--record",
            str(tmp_path / "r.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--record" in result.stderr
    assert not (tmp_path / "r.jsonl").exists()
