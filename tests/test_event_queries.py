"""The Events list at scale: the newest events found among the last stored, exactly.

``events()`` bounds its query by the newest events among the most recently stored rows
(``store/queries/events.py``). The first look is made small here so that these small real
databases take that path; every answer is compared with a plain sort of the whole table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import Simulator
from otelwatch.store import database
from otelwatch.store.queries import events as event_queries
from otelwatch.store.queries.base import like_pattern
from otelwatch.store.reader import Reader
from otelwatch.store.writer import Writer

DAY0 = 1_790_000_000_000_000_000
DECODE = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}


def _event(time_ns: int, name: str, tool: str) -> bytes:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = time_ns
    record.body.string_value = f"claude_code.{name}"
    for key, value in (("event.name", name), ("tool_name", tool), ("session.id", "clock-ahead")):
        record.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    return request.SerializeToString()


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    conn = database.connect(Path(tmp_path_factory.mktemp("events")) / "e.duckdb")
    writer = Writer(conn)
    writer.start()
    # Stored first, timed an hour after everything else: a sender whose clock is ahead.
    writer.write(DECODE["logs"](_event(DAY0 + 3_600 * 10**9, "tool_result", "Bash"), DAY0))
    sim = Simulator(seed=11, sessions=6, start_ns=DAY0)
    for export in sim.advance(1_200):
        writer.write(DECODE[export.signal](export.body(), sim.now_ns))
    writer.close()
    return Reader(conn)


def _plain(reader: Reader, session_id: str | None, text: str, limit: int) -> list[Any]:
    where, params = ["TRUE"], list[Any]()
    if session_id:
        where.append("session_id = ?")
        params.append(session_id)
    if text:
        where.append(
            "(event_name ILIKE ? ESCAPE '\\' OR tool_name ILIKE ? ESCAPE '\\' "
            "OR model ILIKE ? ESCAPE '\\' OR session_id ILIKE ? ESCAPE '\\' "
            "OR body ILIKE ? ESCAPE '\\' OR CAST(attributes AS VARCHAR) ILIKE ? ESCAPE '\\')"
        )
        params += [like_pattern(text)] * 6
    with reader._conn.cursor() as cur:
        return cur.execute(
            f"SELECT rowid, time_ns FROM log_events WHERE {' AND '.join(where)} "
            "ORDER BY time_ns DESC LIMIT ?",
            [*params, limit],
        ).fetchall()


# Besides words: case, characters that are wildcards in LIKE or special in a regular
# expression, and text that is not ASCII; every answer is compared with ILIKE's.
@pytest.mark.parametrize(
    "text", ["", "bash", "read", "opus", "no such text", "BaSh", "_r", "-4", "%", "(", ".*", "é"]
)
@pytest.mark.parametrize("limit", [1, 50, 400])
@pytest.mark.parametrize("split", [40, 10**9], ids=["halves", "whole"])
def test_the_newest_events_are_exactly_those_of_a_full_sort(
    reader: Reader, monkeypatch: pytest.MonkeyPatch, text: str, limit: int, split: int
) -> None:
    monkeypatch.setattr(event_queries, "_FIRST_LOOK", 120)
    monkeypatch.setattr(event_queries, "_FIRST_LOOK_TEXT", 60)
    # Slices matched in two halves at once, on two cursors, or whole.
    monkeypatch.setattr(event_queries, "_SPLIT", split)
    total = reader.table_counts().log_events
    assert total > 1_000  # far more than the first look
    got = reader.events(text=text, limit=limit)
    expected = _plain(reader, None, text, limit)
    # Ties in time may come in either order: the times must match, and the events above the
    # last time.
    assert [r.time_ns for r in got] == [t for _, t in expected]
    if expected:
        edge = expected[-1][1]
        assert {r.key for r in got if r.time_ns > edge} == {k for k, t in expected if t > edge}
    if not text or text == "bash":
        assert got[0].session_id == "clock-ahead"  # found although stored first
    with reader.snapshot():  # one cursor: the halves one after the other
        assert reader.events(text=text, limit=limit) == got
    session = got[-1].session_id if got else None
    if session:
        by_session = reader.events(session_id=session, text=text, limit=limit)
        plain = _plain(reader, session, text, limit)
        assert [r.time_ns for r in by_session] == [t for _, t in plain]


def _described(name: str, **attributes: str | int) -> bytes:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = DAY0
    record.body.string_value = f"claude_code.{name}"
    record.attributes.append(KeyValue(key="event.name", value=AnyValue(string_value=name)))
    record.attributes.append(KeyValue(key="session.id", value=AnyValue(string_value=name)))
    for key, value in attributes.items():
        any_value = (
            AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        )
        record.attributes.append(KeyValue(key=key, value=any_value))
    return request.SerializeToString()


# Each kind of event, the attributes it came with, and the word the list shows for it.
DETAILS: list[tuple[str, dict[str, str | int], str | None]] = [
    ("api_error", {"status_code": 529, "error": "Overloaded"}, "529 Overloaded"),
    ("api_error", {"error": "timeout"}, " timeout"),
    ("api_retries_exhausted", {"total_attempts": 11}, "after 11 attempts"),
    ("api_retries_exhausted", {}, "after ? attempts"),
    ("tool_decision", {"source": "config", "decision": "accept"}, "config"),
    ("tool_result", {"error": "exit 1", "tool_name": "Bash"}, "exit 1"),
    ("tool_result", {"tool_name": "Read"}, None),
    ("user_prompt", {"prompt": "fix the build", "prompt_length": 13}, "fix the build"),
    ("user_prompt", {"prompt": "<REDACTED>", "prompt_length": 42}, "42 chars"),
    ("user_prompt", {"prompt_length": 7}, "7 chars"),
    ("user_prompt", {}, None),
    ("api_refusal", {}, "refused"),
    ("api_request", {"error": "not shown", "source": "not shown"}, None),
]


def test_each_kind_of_event_says_what_happened(tmp_path: Path) -> None:
    conn = database.connect(tmp_path / "d.duckdb")
    writer = Writer(conn)
    writer.start()
    for name, attributes, _ in DETAILS:
        writer.write(DECODE["logs"](_described(name, **attributes), DAY0))
    writer.close()
    reader = Reader(conn)
    got = sorted((r.key, r.event_name, r.detail) for r in reader.events(limit=100))
    assert [(name, detail) for _, name, detail in got] == [
        (name, detail) for name, _, detail in DETAILS
    ]
    # The same through the filtered path, which reads whole rows in slices.
    for name, _, detail in DETAILS:
        assert {r.detail for r in reader.events(text=name, limit=100) if r.event_name == name} >= {
            detail
        }
