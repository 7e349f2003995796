"""The Traces filter at scale: the newest matching traces found among the last stored, exactly.

``traces(text=…)`` matches the most recently stored spans first and bounds the rest by the
matches found (``store/queries/traces.py``). The first look is made small here so that these
small real databases take that path; every answer is compared with plain scans of the whole
table, as the filter was written before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trace_builders import hex_id, spans_request, turn

from otelwatch.ingest import otlp_proto
from otelwatch.simulator import Simulator
from otelwatch.store import database
from otelwatch.store.queries import traces as trace_queries
from otelwatch.store.reader import Reader
from otelwatch.store.writer import Writer

DAY0 = 1_795_000_000_000_000_000
DECODE = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}
AHEAD = 0xA4EAD


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    conn = database.connect(Path(tmp_path_factory.mktemp("traces")) / "t.duckdb")
    writer = Writer(conn)
    writer.start()
    # Stored first, started days after everything else: a sender whose clock is ahead.
    # Its prompt is on its interaction span (its events were not exported).
    ahead = turn(AHEAD, session="clock-ahead", start_ms=3 * 86_400_000.0)
    ahead[0].attrs["user_prompt"] = "why is the nightly sync slow"
    writer.write(otlp_proto.decode_traces(spans_request(ahead), DAY0))
    sim = Simulator(seed=5, sessions=6, start_ns=DAY0)
    for export in sim.advance(1_500):
        writer.write(DECODE[export.signal](export.body(), sim.now_ns))
    writer.close()
    return Reader(conn)


def _plain(reader: Reader, session_id: str | None, text: str, limit: int) -> list[Any]:
    """(trace id, start, spans) of the filtered list, from scans of every span."""
    needle = text.lower()
    by_prompt = {
        r.trace_id
        for r in reader.traces(session_id=session_id, limit=limit)
        if r.prompt is not None and needle in r.prompt.lower()
    }
    session = "AND session_id = ?" if session_id else ""
    with reader._conn.cursor() as cur:
        by_span = cur.execute(
            f"""
            SELECT trace_id FROM spans
            WHERE (starts_with(trace_id, ?) OR contains(lower(name), ?)
                   OR contains(lower(tool_name), ?) OR contains(lower(model), ?)
                   OR contains(lower(session_id), ?)) {session}
            GROUP BY trace_id ORDER BY max(start_ns) DESC, trace_id DESC LIMIT ?
            """,
            [*[needle] * 5, *([session_id] if session_id else []), limit],
        ).fetchall()
        keep = sorted(by_prompt | {r[0] for r in by_span})
        belongs = (
            "AND trace_id IN (SELECT trace_id FROM spans WHERE session_id = ?)"
            if session_id
            else ""
        )
        rows = cur.execute(
            f"""
            SELECT trace_id, min(start_ns), count(DISTINCT span_id) FROM spans
            WHERE list_contains(?::VARCHAR[], trace_id) {belongs}
            GROUP BY trace_id ORDER BY min(start_ns) DESC, trace_id DESC LIMIT ?
            """,
            [keep, *([session_id] if session_id else []), limit],
        ).fetchall()
    return [tuple(r) for r in rows]


# "<prompt>" stands for the last word of the prompt of the oldest trace the plain list shows.
@pytest.mark.parametrize(
    "text", ["bash", "READ", "opus", "llm_request", "clock", "0000", "<prompt>", "no such text"]
)
@pytest.mark.parametrize("limit", [1, 7, 60])
def test_the_newest_matching_traces_are_exactly_those_of_full_scans(
    reader: Reader, monkeypatch: pytest.MonkeyPatch, text: str, limit: int
) -> None:
    monkeypatch.setattr(trace_queries, "_FIRST_LOOK", 150)
    assert reader.table_counts().spans > 2_000  # far more than the first look
    by_prompt = text == "<prompt>"
    if by_prompt:
        prompts = [r.prompt for r in reader.traces(limit=limit) if r.prompt]
        text = prompts[-1].split()[-1].upper()
    got = reader.traces(text=text, limit=limit)
    expected = _plain(reader, None, text, limit)
    assert [(r.trace_id, r.start_ns, r.spans) for r in got] == expected
    if text in ("bash", "clock", "0000") or (by_prompt and limit == 1):
        assert got[0].trace_id == hex_id(AHEAD, 16)  # found although stored first
    assert bool(got) == (text != "no such text")
    session = got[-1].session_id if got else None
    if session:
        by_session = reader.traces(session_id=session, text=text, limit=limit)
        plain = _plain(reader, session, text, limit)
        assert [(r.trace_id, r.start_ns, r.spans) for r in by_session] == plain
