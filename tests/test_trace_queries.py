"""The trace queries on real databases written by the real writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from trace_builders import (
    MS,
    T0,
    EventSpec,
    LiveStore,
    SpanSpec,
    events_request,
    hex_id,
    spans_request,
    turn,
    turn_events,
)
from tui_harness import recorded_store

RECORDED_TRACE = "9adab7ba98763ad5d2e3a59faf164050"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LiveStore]:
    live = LiveStore(tmp_path / "t.duckdb")
    yield live
    live.close()


def test_the_recorded_claude_code_trace(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    rows = reader.traces()
    assert len(rows) == 1
    row = rows[0]
    assert row.trace_id == RECORDED_TRACE
    assert row.name == "claude_code.interaction"
    assert row.has_root
    assert (row.spans, row.errors) == (6, 0)
    assert row.cost_usd == pytest.approx(0.061864 + 0.0139794)
    # Both api_request events: input, output, cache read and cache creation tokens.
    assert row.tokens == 1881 + 53 + 0 + 10656 + 1011 + 17 + 10102 + 1515
    assert row.prompt is None  # exported as <REDACTED>
    assert 1_972_000_000 < row.duration_ns < 1_973_000_000

    trace = reader.trace(RECORDED_TRACE)
    assert trace is not None
    assert len(trace.spans) == 6
    assert [s.name for s in trace.spans][:2] == [
        "claude_code.interaction",
        "claude_code.llm_request",
    ]
    assert trace.usage is not None
    assert trace.usage.from_events
    assert trace.usage.requests == 2
    assert trace.prompt is None
    assert trace.prompt_length == 63


def test_span_detail_ties_the_turns_log_events(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    trace = reader.trace(RECORDED_TRACE)
    assert trace is not None
    by_name = {s.name: s.span_id for s in trace.spans}

    root = reader.span_detail(RECORDED_TRACE, by_name["claude_code.interaction"])
    assert root is not None
    assert root.parent_span_id is None
    assert root.attributes["user_prompt"] == "<REDACTED>"
    assert root.resource["service.name"] == "claude-code"
    names = [e.event_name for e in root.log_events]
    assert names.count("api_request") == 2
    assert {"user_prompt", "tool_result"} <= set(names)

    tool = reader.span_detail(RECORDED_TRACE, by_name["claude_code.tool"])
    assert tool is not None
    assert {e.event_name for e in tool.log_events} == {"tool_decision", "tool_result"}

    llm = reader.span_detail(RECORDED_TRACE, trace.spans[1].span_id)
    assert llm is not None
    assert [e.name for e in llm.events] == ["gen_ai.request.attempt"]
    assert "api_request" in {e.event_name for e in llm.log_events}
    assert reader.span_detail(RECORDED_TRACE, "0" * 16) is None


def test_search_in_names_attributes_and_span_events(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    trace = reader.trace(RECORDED_TRACE)
    assert trace is not None
    names = {s.span_id: s.name for s in trace.spans}
    assert [names[i] for i in reader.trace_search(RECORDED_TRACE, "blocked")] == [
        "claude_code.tool.blocked_on_user"
    ]
    bash = {names[i] for i in reader.trace_search(RECORDED_TRACE, "bash")}
    assert "claude_code.tool" in bash
    attempts = reader.trace_search(RECORDED_TRACE, "gen_ai.request.ATTEMPT")
    assert {names[i] for i in attempts} == {"claude_code.llm_request"}
    assert len(attempts) == 2
    assert reader.trace_search(RECORDED_TRACE, "no such thing 100%") == []


def test_a_trace_is_listed_before_its_root_and_grows(store: LiveStore) -> None:
    spans = turn(1)
    # Claude Code exports spans as they end: the children travel first.
    store.send("traces", spans_request(spans[1:3]))
    (row,) = store.reader.traces()
    assert not row.has_root
    assert row.name == "claude_code.llm_request"  # the earliest span, until the root arrives
    assert row.spans == 2
    store.send("traces", spans_request(spans[3:]))
    (row,) = store.reader.traces()
    assert (row.spans, row.has_root, row.errors) == (5, False, 1)
    store.send("traces", spans_request(spans[:1]))
    (row,) = store.reader.traces()
    assert (row.spans, row.has_root, row.name) == (6, True, "claude_code.interaction")
    assert row.duration_ns == 2000 * MS


def test_spans_stored_twice_count_once(store: LiveStore) -> None:
    body = spans_request(turn(1))
    store.send("traces", body)
    store.restart_writer()  # a retry after a restart is stored again
    store.send("traces", body)
    assert store.conn.execute("SELECT count(*) FROM spans").fetchone() == (12,)
    (row,) = store.reader.traces()
    assert (row.spans, row.errors) == (6, 1)
    trace = store.reader.trace(row.trace_id)
    assert trace is not None
    assert len(trace.spans) == 6


def test_cost_tokens_and_prompt_of_a_turn(store: LiveStore) -> None:
    store.send("traces", spans_request(turn(1) + turn(2, start_ms=5000, base=10)))
    store.send(
        "logs",
        events_request(
            turn_events(1, prompt="fix the flaky test")
            + turn_events(2, prompt="<REDACTED>", start_ms=5000, base=10, seq=10)
        ),
    )
    rows = {r.trace_id: r for r in store.reader.traces()}
    first, second = rows[hex_id(1, 16)], rows[hex_id(2, 16)]
    assert first.cost_usd == pytest.approx(0.75)
    assert first.tokens == 1050 + 2520
    assert first.prompt == "fix the flaky test"
    assert second.prompt is None
    trace = store.reader.trace(hex_id(1, 16))
    assert trace is not None
    assert trace.usage is not None
    assert (trace.usage.input_tokens, trace.usage.cache_read_tokens) == (3000, 500)
    assert trace.prompt == "fix the flaky test"
    assert trace.prompt_length == 18


def test_tokens_and_prompt_from_spans_when_logs_are_not_exported(store: LiveStore) -> None:
    spans = turn(1)
    spans[0].attrs["user_prompt"] = "why is CI red?"
    spans[0].attrs["user_prompt_length"] = 14
    spans[5].attrs.update({"input_tokens": "7", "output_tokens": 3, "cache_read_tokens": "x"})
    store.send("traces", spans_request(spans))
    (row,) = store.reader.traces()
    assert row.cost_usd is None
    assert row.tokens == 100 + 7 + 3
    assert row.prompt == "why is CI red?"
    trace = store.reader.trace(row.trace_id)
    assert trace is not None
    assert trace.usage is not None
    assert not trace.usage.from_events
    assert (trace.usage.input_tokens, trace.usage.requests) == (107, 2)
    assert trace.prompt == "why is CI red?"


def test_sorting(store: LiveStore) -> None:
    slow = turn(1)
    slow[0].end_ms = 9000
    quick = turn(2, start_ms=10_000, base=10)
    for spec in quick:
        spec.error = None
    store.send("traces", spans_request(slow + quick))
    store.send("logs", events_request(turn_events(2, prompt="p", start_ms=10_000, base=10)))
    by = {
        sort: [r.trace_id[-1] for r in store.reader.traces(sort=sort)]
        for sort in ("start", "duration", "cost", "errors")
    }
    assert by == {
        "start": ["2", "1"],
        "duration": ["1", "2"],
        "cost": ["2", "1"],
        "errors": ["1", "2"],
    }
    ascending = store.reader.traces(sort="duration", descending=False)
    assert [r.trace_id[-1] for r in ascending] == ["2", "1"]


def test_filter_by_text_and_session(store: LiveStore) -> None:
    store.send("traces", spans_request(turn(1, session="alpha")))
    other = turn(2, session="beta", start_ms=5000, base=10)
    other[2].attrs["tool_name"] = "WebFetch"
    store.send("traces", spans_request(other))
    store.send(
        "logs", events_request(turn_events(1, prompt="Refactor the parser", session="alpha"))
    )

    def ids(**kwargs: object) -> list[str]:
        return [r.trace_id[-1] for r in store.reader.traces(**kwargs)]  # type: ignore[arg-type]

    assert ids(text="webfetch") == ["2"]
    assert ids(text="PARSER") == ["1"]  # the prompt
    assert ids(text=hex_id(2, 16)) == ["2"]  # a trace id (or its start)
    assert ids(text="bet") == ["2"]  # the session
    assert ids(text="llm_request") == ["2", "1"]
    assert ids(text="nothing like it") == []
    assert ids(session_id="alpha") == ["1"]
    assert ids(session_id="beta", text="bash") == []


def test_the_list_holds_the_newest_traces(store: LiveStore) -> None:
    specs = []
    for n in range(1, 13):
        specs += turn(n, start_ms=n * 3000, base=n * 10)
    store.send("traces", spans_request(specs))
    # A newer trace whose root has not arrived yet.
    store.send("traces", spans_request(turn(99, start_ms=60_000, base=990)[1:]))
    rows = store.reader.traces(limit=5)
    assert [r.trace_id[-2:] for r in rows] == ["63", "0c", "0b", "0a", "09"]
    assert not rows[0].has_root
    assert all(r.spans == 6 for r in rows[1:])


def test_trace_ids_by_prefix(store: LiveStore) -> None:
    store.send("traces", spans_request(turn(0x10) + turn(0x11, base=10)))
    assert store.reader.trace_ids(hex_id(0x10, 16)) == [hex_id(0x10, 16)]
    assert store.reader.trace_ids("0000", limit=2) == [hex_id(0x10, 16), hex_id(0x11, 16)]
    assert store.reader.trace_ids("FFFF") == []
    assert store.reader.trace(hex_id(0x12, 16)) is None


def test_span_detail_has_status_events_links_and_times(store: LiveStore) -> None:
    spans = turn(1)
    store.send("traces", spans_request(spans))
    store.send("logs", events_request([*turn_events(1, prompt="p"), EventSpec("other", 7, 2, 9)]))
    detail = store.reader.span_detail(hex_id(1, 16), hex_id(5, 8))
    assert detail is not None
    assert (detail.status_code, detail.status_message) == ("error", "ShellError")
    assert detail.start_ns == T0 + 1100 * MS
    assert detail.kind == "internal"
    assert detail.scope_name == "com.anthropic.claude_code.tracing"
    assert detail.attributes["success"] is False
    # The execution span names the tool call: its decision and result belong to it.
    assert [e.event_name for e in detail.log_events] == ["tool_decision", "tool_result"]
    llm = store.reader.span_detail(hex_id(1, 16), hex_id(2, 8))
    assert llm is not None
    assert llm.events[0].name == "gen_ai.request.attempt"
    assert llm.events[0].attributes == {"attempt": 1}
    assert [e.event_name for e in llm.log_events] == ["api_request"]


def test_a_trace_of_another_sender_without_claude_code_attributes(store: LiveStore) -> None:
    specs = [
        SpanSpec(5, 1, None, "GET /users", 0, 120),
        SpanSpec(5, 2, 1, "SELECT users", 10, 80),
    ]
    store.send("traces", spans_request(specs, service="api"))
    (row,) = store.reader.traces()
    assert (row.name, row.service_name, row.cost_usd, row.tokens) == (
        "GET /users",
        "api",
        None,
        None,
    )
    trace = store.reader.trace(row.trace_id)
    assert trace is not None
    assert trace.usage is None
    assert trace.prompt is None


def test_the_prompt_of_a_trace_whose_root_has_not_arrived(store: LiveStore) -> None:
    # The prompt event comes before the first model call, the earliest span stored.
    store.send("traces", spans_request(turn(1)[1:]))
    store.send("logs", events_request(turn_events(1, prompt="add pagination")))
    trace = store.reader.trace(hex_id(1, 16))
    assert trace is not None
    assert trace.prompt == "add pagination"
    (row,) = store.reader.traces(limit=1)
    assert (row.has_root, row.prompt) == (False, "add pagination")


def test_a_prompt_and_tokens_that_arrive_after_the_trace_is_listed(store: LiveStore) -> None:
    spans = turn(1)
    store.send("traces", spans_request(spans[1:]))
    (row,) = store.reader.traces()
    assert (row.prompt, row.cost_usd, row.tokens) == (None, None, 100)  # from the spans
    # The events, then the root span (the trace's spans change, so it is looked at again).
    store.send("logs", events_request(turn_events(1, prompt="late prompt")))
    store.send("traces", spans_request(spans[:1]))
    (row,) = store.reader.traces()
    assert (row.prompt, row.cost_usd, row.tokens) == ("late prompt", pytest.approx(0.75), 3570)
