"""The simulator's requests, read back through otelwatch's own decoders, behave like Claude Code's.

Everything is checked on decoded rows (what the store would receive), against invariants that
the real product keeps and against the recorded fixtures.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelwatch.ingest import otlp_json, otlp_proto
from otelwatch.simulator import (
    MAX_EXPORT_BATCH,
    METRICS,
    TOOLS,
    Export,
    Simulator,
    build_request,
    price_usd,
    traces_request,
)
from otelwatch.store.rows import LOG_EVENT_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS, RowBatch

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"
SESSIONS = 4
SEED = 11

Row = dict[str, Any]


@dataclass
class Decoded:
    """Rows decoded from a list of requests, each tagged with the index of its request."""

    spans: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    points: list[Row] = field(default_factory=list)
    resources: dict[str, Row] = field(default_factory=dict)

    def add(self, batch: RowBatch, index: int) -> None:
        assert batch.rejected == 0, batch.rejected_reason
        for r in batch.spans:
            self.spans.append(_row(SPAN_COLUMNS, r, index))
        for r in batch.log_events:
            self.events.append(_row(LOG_EVENT_COLUMNS, r, index))
        for r in batch.metric_points:
            self.points.append(_row(METRIC_POINT_COLUMNS, r, index))
        for rid, res in batch.resources.items():
            self.resources[rid] = {"service_name": res[1], "attributes": json.loads(res[2])}


def _row(columns: tuple[str, ...], values: tuple[Any, ...], index: int) -> Row:
    row = dict(zip(columns, values, strict=True))
    row["attributes"] = json.loads(row["attributes"])
    row["request"] = index
    return row


_DECODERS: dict[str, Callable[[bytes, int], RowBatch]] = {
    "traces": otlp_proto.decode_traces,
    "logs": otlp_proto.decode_logs,
    "metrics": otlp_proto.decode_metrics,
}


def decode(exports: list[Export]) -> Decoded:
    out = Decoded()
    for i, export in enumerate(exports):
        batch = _DECODERS[export.signal](export.body(), 0)
        assert batch.item_count == export.items
        out.add(batch, i)
    return out


@pytest.fixture(scope="module")
def hour() -> tuple[list[Export], Decoded]:
    """An hour of four concurrent sessions."""
    exports = Simulator(seed=SEED, sessions=SESSIONS).advance(3600)
    return exports, decode(exports)


@pytest.fixture(scope="module")
def finished() -> Decoded:
    """The same hour, only the sessions that have exited."""
    sim = Simulator(seed=SEED, sessions=SESSIONS)
    exports = sim.advance(3600)
    return _finished(exports, sim.ended_sessions)


@pytest.fixture(scope="module")
def recorded() -> Decoded:
    """The recorded Claude Code requests (gRPC, HTTP/protobuf and HTTP/JSON)."""
    out = Decoded()
    for i, path in enumerate(sorted(FIXTURES.glob("*/*-*.*"))):
        if path.suffix not in (".bin", ".json"):
            continue
        signal = path.name.split("-")[1]
        module = otlp_json if path.suffix == ".json" else otlp_proto
        decoder = getattr(module, f"decode_{signal}")
        out.add(decoder(path.read_bytes(), 0), i)
    assert out.spans and out.events and out.points
    return out


def by_session(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["session_id"]].append(row)
    return groups


# --------------------------------------------------------------------------- shape


def test_every_request_decodes_and_respects_the_batch_limit(
    hour: tuple[list[Export], Decoded],
) -> None:
    exports, decoded = hour
    assert Counter(e.signal for e in exports).keys() == {"traces", "logs", "metrics"}
    assert all(0 < e.items <= MAX_EXPORT_BATCH for e in exports)
    assert [e.time_ns for e in exports] == sorted(e.time_ns for e in exports)
    # One process, one resource: every request carries exactly one, and it names the session.
    for export in exports:
        request = export.request
        if isinstance(request, ExportTraceServiceRequest):
            entries: Any = request.resource_spans
        elif isinstance(request, ExportLogsServiceRequest):
            entries = request.resource_logs
        else:
            entries = request.resource_metrics
        assert len(entries) == 1
    assert len({e.session_id for e in exports}) > SESSIONS  # sessions end and are replaced
    assert len(decoded.spans) > 1000
    assert len(decoded.events) > 1000


def test_resource_and_scopes_are_claude_codes(
    hour: tuple[list[Export], Decoded], recorded: Decoded
) -> None:
    _, decoded = hour
    recorded_keys = {k for r in recorded.resources.values() for k in r["attributes"]}
    for resource in decoded.resources.values():
        assert set(resource["attributes"]) == recorded_keys
        assert resource["service_name"] == "claude-code"
    for rows, recorded_rows in (
        (decoded.spans, recorded.spans),
        (decoded.events, recorded.events),
        (decoded.points, recorded.points),
    ):
        assert {r["scope_name"] for r in rows} == {r["scope_name"] for r in recorded_rows}


def _types(attributes: dict[str, Any]) -> dict[str, str]:
    return {k: type(v).__name__ for k, v in attributes.items()}


def _same_keys_and_types(
    simulated: list[Row], recorded: list[Row], what: str, *, exact: bool = True
) -> None:
    assert simulated, f"the simulation produced no {what}"
    assert recorded, f"the recordings hold no {what}"
    expected = _types(recorded[0]["attributes"])
    for row in simulated:
        got = _types(row["attributes"])
        if exact:
            assert got.keys() == expected.keys(), (what, got.keys() ^ expected.keys())
        else:
            assert got.keys() >= expected.keys(), (what, expected.keys() - got.keys())
        for key, kind in expected.items():
            assert got[key] == kind, (what, key, got[key], kind)


def test_span_attributes_match_the_recordings(
    hour: tuple[list[Export], Decoded], recorded: Decoded
) -> None:
    _, decoded = hour

    def spans(
        rows: list[Row], name: str, keep: Callable[[Row], bool] = lambda r: True
    ) -> list[Row]:
        return [r for r in rows if r["name"] == name and keep(r)]

    def main_ok(r: Row) -> bool:
        a = r["attributes"]
        return a["llm_request.context"] == "interaction" and a.get("success") is True

    def bash(r: Row) -> bool:
        return r["tool_name"] == "Bash"

    def succeeded(r: Row) -> bool:
        return r["attributes"].get("success") is True

    def accepted(r: Row) -> bool:
        return r["attributes"]["decision"] == "accept"

    for name, keep in (
        ("claude_code.interaction", lambda r: True),
        ("claude_code.llm_request", main_ok),
        ("claude_code.tool", bash),
        ("claude_code.tool.blocked_on_user", accepted),
        ("claude_code.tool.execution", succeeded),
    ):
        _same_keys_and_types(spans(decoded.spans, name, keep), spans(recorded.spans, name), name)
    assert {r["kind"] for r in decoded.spans} == {"internal"}


def test_event_attributes_match_the_recordings(
    hour: tuple[list[Export], Decoded], recorded: Decoded
) -> None:
    _, decoded = hour

    def events(
        rows: list[Row], name: str, keep: Callable[[Row], bool] = lambda r: True
    ) -> list[Row]:
        return [r for r in rows if r["event_name"] == name and keep(r)]

    def main(r: Row) -> bool:
        a = r["attributes"]
        return a.get("query_source") == "repl_main_thread" and "mcp_server.name" not in a

    def plain_bash(r: Row) -> bool:
        a = r["attributes"]
        return (
            r["tool_name"] == "Bash"
            and "agent_id" not in a
            and a.get("success", "true") == "true"
            and "vcs.ref.head.revision" not in a
        )

    for name, keep in (
        ("managed_settings_resolved", lambda r: True),
        ("plugin_loaded", lambda r: True),
        ("user_prompt", lambda r: True),
        ("api_request", main),
        ("assistant_response", main),
        ("tool_decision", plain_bash),
        ("tool_result", plain_bash),
    ):
        _same_keys_and_types(
            events(decoded.events, name, keep), events(recorded.events, name), name
        )
    for row in decoded.events:
        assert row["body"] == f"claude_code.{row['event_name']}"
        assert row["attributes"]["event.name"] == row["event_name"]
        assert row["severity_number"] == 0
        assert row["severity_text"] is None
        assert row["time_ns"] == row["observed_ns"]
        assert row["time_ns"] % 1_000_000 == 0


def test_metric_attributes_match_the_recordings(
    hour: tuple[list[Export], Decoded], recorded: Decoded
) -> None:
    _, decoded = hour

    def points(
        rows: list[Row], name: str, keep: Callable[[Row], bool] = lambda r: True
    ) -> list[Row]:
        return [r for r in rows if r["metric_name"] == name and keep(r)]

    def main(r: Row) -> bool:
        a = r["attributes"]
        return a.get("query_source") == "main" and "mcp_server.name" not in a

    def cli(r: Row) -> bool:
        return r["attributes"]["type"] == "cli"

    for name, keep in (
        ("claude_code.session.count", lambda r: True),
        ("claude_code.cost.usage", main),
        ("claude_code.token.usage", main),
        ("claude_code.active_time.total", cli),
    ):
        _same_keys_and_types(
            points(decoded.points, name, keep), points(recorded.points, name), name
        )
    recorded_units = {r["metric_name"]: r["unit"] for r in recorded.points}
    for row in decoded.points:
        assert row["metric_type"] == "sum"
        assert row["temporality"] == "delta"
        assert row["is_monotonic"] is True
        assert row["unit"] == recorded_units.get(row["metric_name"], row["unit"])
    assert {r["metric_name"] for r in decoded.points} == set(METRICS)


# --------------------------------------------------------------------------- cost and tokens

_TOKEN_FIELDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cacheRead",
    "cache_creation_tokens": "cacheCreation",
}


def _finished(exports: list[Export], ended: list[str]) -> Decoded:
    """Exports of the sessions that have exited, so that nothing of theirs is still waiting."""
    assert len(ended) >= SESSIONS
    return decode([e for e in exports if e.session_id in set(ended)])


def test_api_request_cost_equals_the_cost_metric_exactly(finished: Decoded) -> None:
    decoded = finished
    event_cost: dict[tuple[str, str], float] = defaultdict(float)
    metric_cost: dict[tuple[str, str], float] = defaultdict(float)
    for row in decoded.events:
        if row["event_name"] == "api_request":
            a = row["attributes"]
            event_cost[(row["session_id"], a["model"])] += a["cost_usd"]
            assert a["cost_usd_micros"] == round(a["cost_usd"] * 1e6)
            assert row["cost_usd"] == a["cost_usd"]
    for row in decoded.points:
        if row["metric_name"] == "claude_code.cost.usage":
            metric_cost[(row["session_id"], row["model"])] += row["value"]
    assert len(event_cost) >= 8
    assert event_cost == metric_cost  # exactly, not approximately
    # In any order too (SQL SUM does not promise one).
    events = [r["attributes"]["cost_usd"] for r in decoded.events if "cost_usd" in r["attributes"]]
    points = [r["value"] for r in decoded.points if r["metric_name"] == "claude_code.cost.usage"]
    assert sum(reversed(events)) == sum(sorted(points)) == math.fsum(events)


def test_tokens_of_events_equal_the_token_metric(finished: Decoded) -> None:
    decoded = finished
    from_events: Counter[tuple[str, str, str]] = Counter()
    from_metric: Counter[tuple[str, str, str]] = Counter()
    for row in decoded.events:
        if row["event_name"] == "api_request":
            for attr, kind in _TOKEN_FIELDS.items():
                from_events[(row["session_id"], row["model"], kind)] += row["attributes"][attr]
    for row in decoded.points:
        if row["metric_name"] == "claude_code.token.usage":
            assert row["value"] == int(row["value"])
            from_metric[(row["session_id"], row["model"], row["type"])] += int(row["value"])
    assert from_events
    assert +from_events == +from_metric


def test_each_api_response_adds_four_token_points_zeros_included(
    hour: tuple[list[Export], Decoded],
) -> None:
    _, decoded = hour
    groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    zeros = 0
    for row in decoded.points:
        if row["metric_name"] == "claude_code.token.usage":
            rest = {k: v for k, v in row["attributes"].items() if k != "type"}
            groups[(json.dumps(rest, sort_keys=True), row["time_ns"])].append(row["type"])
            zeros += row["value"] == 0
    assert groups
    for types in groups.values():
        assert sorted(types) == ["cacheCreation", "cacheRead", "input", "output"]
    assert zeros > 0  # a first call reads nothing from the cache, and says so


def test_prices_reproduce_the_recorded_costs(recorded: Decoded) -> None:
    requests = [r["attributes"] for r in recorded.events if r["event_name"] == "api_request"]
    assert requests
    for a in requests:
        cost = price_usd(
            a["model"],
            a["input_tokens"],
            a["output_tokens"],
            a["cache_read_tokens"],
            a["cache_creation_tokens"],
        )
        assert cost == pytest.approx(a["cost_usd"], rel=1e-9, abs=1e-12)


def test_delta_points_never_overlap(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    series: dict[str, list[Row]] = defaultdict(list)
    for row in decoded.points:
        series[row["series_key"]].append(row)
    for rows in series.values():
        rows.sort(key=lambda r: r["time_ns"])
        for before, after in itertools.pairwise(rows):
            assert after["start_ns"] >= before["time_ns"]
        for row in rows:
            assert row["start_ns"] <= row["time_ns"]


# --------------------------------------------------------------------------- traces


def test_every_parent_arrives_and_children_often_come_first(
    hour: tuple[list[Export], Decoded],
) -> None:
    _, decoded = hour
    spans = {(r["trace_id"], r["span_id"]): r for r in decoded.spans}
    assert len(spans) == len(decoded.spans), "span ids repeat"
    rooted = {r["trace_id"] for r in decoded.spans if r["parent_span_id"] is None}
    early_children = 0
    for row in decoded.spans:
        if row["parent_span_id"] is None:
            continue
        parent = spans.get((row["trace_id"], row["parent_span_id"]))
        if row["trace_id"] in rooted:
            assert parent is not None, row["name"]
            assert parent["start_ns"] <= row["start_ns"] and row["end_ns"] <= parent["end_ns"]
            early_children += row["request"] < parent["request"]
    # Traces still in flight when the hour ended: at most one per session.
    unrooted = {r["trace_id"] for r in decoded.spans} - rooted
    assert len(unrooted) <= SESSIONS
    assert early_children > 0


def test_span_tree_shape(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    spans = {(r["trace_id"], r["span_id"]): r for r in decoded.spans}

    def parent_name(row: Row) -> str | None:
        parent = spans.get((row["trace_id"], row["parent_span_id"]))
        return parent["name"] if parent else None

    allowed = {
        "claude_code.llm_request": {"claude_code.interaction", "claude_code.tool", None},
        "claude_code.tool": {"claude_code.interaction", "claude_code.tool"},
        "claude_code.tool.blocked_on_user": {"claude_code.tool"},
        "claude_code.tool.execution": {"claude_code.tool"},
    }
    for row in decoded.spans:
        assert row["attributes"]["span.type"] == row["name"].removeprefix("claude_code.")
        if row["name"] == "claude_code.interaction":
            assert row["parent_span_id"] is None
        elif row["parent_span_id"] is not None and parent_name(row) is not None:
            assert parent_name(row) in allowed[row["name"]], row["name"]
        if row["parent_span_id"] is None and row["name"] == "claude_code.llm_request":
            assert row["attributes"]["llm_request.context"] == "standalone"
    # Sub-agents: their model calls nest under the Task tool.
    nested = [
        r
        for r in decoded.spans
        if r["name"] == "claude_code.llm_request" and parent_name(r) == "claude_code.tool"
    ]
    assert nested
    assert all(r["attributes"]["llm_request.context"] == "tool" for r in nested)


def test_interactions_are_numbered_per_session(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    for rows in by_session(decoded.spans).values():
        numbers = sorted(
            r["attributes"]["interaction.sequence"]
            for r in rows
            if r["name"] == "claude_code.interaction"
        )
        assert numbers == list(range(1, len(numbers) + 1))


def test_attempts_retries_and_exhausted_retries(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    calls = [r for r in decoded.spans if r["name"] == "claude_code.llm_request"]
    for call in calls:
        events = json.loads(call["events"] or "[]")
        assert [e["name"] for e in events] == ["gen_ai.request.attempt"] * len(events)
        assert [e["attributes"]["attempt"] for e in events] == list(
            range(1, call["attributes"]["attempt"] + 1)
        )
    retried = [c for c in calls if c["attributes"]["attempt"] == 2 and c["status_code"] == "unset"]
    failed = [c for c in calls if c["status_code"] == "error"]
    assert retried
    assert failed
    for call in failed:
        assert call["attributes"]["success"] is False
        # The session says so: api_error, then api_retries_exhausted, one after the other.
        trace_events = sorted(
            (e for e in decoded.events if e["trace_id"] == call["trace_id"]),
            key=lambda e: e["event_sequence"],
        )
        names = [e["event_name"] for e in trace_events]
        if "api_error" not in names:
            continue  # the events of a trace still in flight
        i = names.index("api_error")
        assert names[i + 1] == "api_retries_exhausted"
        exhausted = trace_events[i + 1]["attributes"]
        assert exhausted["total_attempts"] == call["attributes"]["attempt"]
        assert trace_events[i + 1]["event_sequence"] == trace_events[i]["event_sequence"] + 1
    # A failed call is never priced.
    priced = {
        e["attributes"]["request_id"] for e in decoded.events if e["event_name"] == "api_request"
    }
    assert not priced & {c["attributes"].get("request_id") for c in failed}


def test_slow_calls_are_there(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    seconds = 1_000_000_000
    assert any(
        r["name"] == "claude_code.llm_request" and r["duration_ns"] > 30 * seconds
        for r in decoded.spans
    )
    assert any(
        r["name"] == "claude_code.tool"
        and r["tool_name"] == "Bash"
        and r["duration_ns"] > 20 * seconds
        for r in decoded.spans
    )


# --------------------------------------------------------------------------- tools


def test_every_common_tool_is_used_and_some_fail(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    used = {r["tool_name"] for r in decoded.spans if r["name"] == "claude_code.tool"}
    assert used == set(TOOLS)
    failures = [
        r for r in decoded.events if r["event_name"] == "tool_result" and r["success"] is False
    ]
    assert failures
    for row in failures:
        assert row["attributes"]["success"] == "false"
        assert row["attributes"]["error_type"]
        assert row["attributes"]["duration_ms"].isdigit()


def test_tool_use_ids_join_spans_and_events(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    tools = {
        r["attributes"]["tool_use_id"]: r for r in decoded.spans if r["name"] == "claude_code.tool"
    }
    executions = {
        r["attributes"]["tool_use_id"]: r
        for r in decoded.spans
        if r["name"] == "claude_code.tool.execution"
    }
    spans = {(r["trace_id"], r["span_id"]): r for r in decoded.spans}
    results = [r for r in decoded.events if r["event_name"] == "tool_result"]
    decisions = [r for r in decoded.events if r["event_name"] == "tool_decision"]
    assert results and decisions
    joined = 0
    for event in results:
        tool = tools.get(event["attributes"]["tool_use_id"])
        if tool is None:
            continue  # its span is still in flight
        joined += 1
        assert tool["trace_id"] == event["trace_id"]
        assert tool["tool_name"] == event["tool_name"]
        execution = executions[event["attributes"]["tool_use_id"]]
        assert execution["parent_span_id"] == tool["span_id"]
        assert (execution["status_code"] == "error") == (event["success"] is False)
    assert joined > 0.9 * len(results)
    for event in decisions:
        # A decision is raised in the permission wait: its span is the blocked_on_user span.
        blocked = spans.get((event["trace_id"], event["span_id"]))
        if blocked is None:
            continue
        assert blocked["name"] == "claude_code.tool.blocked_on_user"
        assert blocked["attributes"]["decision"] == event["decision"]
        tool = spans.get((event["trace_id"], blocked["parent_span_id"]))
        if tool is not None:  # else the tool is still running when the hour ends
            assert tool["attributes"]["tool_use_id"] == event["attributes"]["tool_use_id"]
    # A rejected call has a decision but no result and no execution.
    rejected = {e["attributes"]["tool_use_id"] for e in decisions if e["decision"] == "reject"}
    assert rejected
    assert not rejected & {e["attributes"]["tool_use_id"] for e in results}
    assert not rejected & set(executions)


def test_edits_count_lines_and_decisions(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    decisions = [
        r for r in decoded.points if r["metric_name"] == "claude_code.code_edit_tool.decision"
    ]
    assert {r["attributes"]["tool_name"] for r in decisions} == {"Edit", "Write"}
    assert {r["attributes"]["decision"] for r in decisions} == {"accept", "reject"}
    lines = [r for r in decoded.points if r["metric_name"] == "claude_code.lines_of_code.count"]
    assert {r["type"] for r in lines} == {"added", "removed"}


# --------------------------------------------------------------------------- events


def test_events_are_numbered_in_order_per_session(finished: Decoded) -> None:
    decoded = finished
    for rows in by_session(decoded.events).values():
        rows.sort(key=lambda r: r["event_sequence"])
        assert [r["event_sequence"] for r in rows] == list(range(len(rows)))
        times = [r["time_ns"] for r in rows]
        assert times == sorted(times)
        assert rows[0]["event_name"] == "managed_settings_resolved"
        # Within each prompt: the prompt first, and a call's events in the order Claude Code
        # raises them.
        by_prompt: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            if r["prompt_id"]:
                by_prompt[r["prompt_id"]].append(r["event_name"])
        for names in by_prompt.values():
            assert names[0] == "user_prompt"
            assert "api_request" in names or "api_error" in names


def test_events_in_a_prompt_carry_its_trace(hour: tuple[list[Export], Decoded]) -> None:
    _, decoded = hour
    roots = {r["trace_id"]: r for r in decoded.spans if r["name"] == "claude_code.interaction"}
    by_prompt: dict[str, set[str]] = defaultdict(set)
    for event in decoded.events:
        if event["prompt_id"] is None:
            assert event["trace_id"] is None
            continue
        assert event["trace_id"] is not None and event["span_id"] is not None
        by_prompt[event["prompt_id"]].add(event["trace_id"])
        root = roots.get(event["trace_id"])
        in_main_loop = "agent_id" not in event["attributes"]
        if (
            root is not None
            and in_main_loop
            and event["event_name"] in ("user_prompt", "api_request")
        ):
            assert event["span_id"] == root["span_id"]
    assert all(len(traces) == 1 for traces in by_prompt.values())


# --------------------------------------------------------------------------- determinism


def _bodies(exports: list[Export]) -> list[tuple[str, int, bytes]]:
    return [(e.signal, e.time_ns, e.body()) for e in exports]


def test_same_seed_same_bytes_however_time_is_advanced() -> None:
    start = 1_800_000_000_000_000_000
    at_once = Simulator(seed=5, sessions=3, start_ns=start).advance(600)
    stepped_sim = Simulator(seed=5, sessions=3, start_ns=start)
    stepped: list[Export] = []
    for _ in range(600):
        stepped.extend(stepped_sim.advance(1.0))
    assert _bodies(at_once) == _bodies(stepped)
    assert at_once[0].time_ns >= start
    other = Simulator(seed=6, sessions=3, start_ns=start).advance(600)
    assert _bodies(other) != _bodies(at_once)


def test_start_time_moves_everything() -> None:
    a = Simulator(seed=1, sessions=1, start_ns=1_800_000_000_000_000_000).advance(120)
    b = Simulator(seed=1, sessions=1, start_ns=1_800_000_100_000_000_000).advance(120)
    assert [e.time_ns + 100_000_000_000 for e in a] == [e.time_ns for e in b]
    assert decode(a).spans[0]["start_ns"] + 100_000_000_000 == decode(b).spans[0]["start_ns"]


# --------------------------------------------------------------------------- fixed-size requests


@pytest.mark.parametrize(("signal", "items"), [("traces", 500), ("logs", 300), ("metrics", 250)])
def test_build_request_holds_exactly_n_items(signal: str, items: int) -> None:
    request = build_request(signal, items, seed=3)  # type: ignore[arg-type]
    batch = _DECODERS[signal](request.SerializeToString(), 0)
    assert batch.item_count == items
    assert batch.rejected == 0
    assert build_request(signal, items, seed=3) == request  # type: ignore[arg-type]


def test_traces_request_is_claude_code_shaped() -> None:
    request = traces_request(500, seed=9)
    batch = otlp_proto.decode_traces(request.SerializeToString(), 0)
    assert len(batch.spans) == 500
    names = Counter(r[8] for r in batch.spans)
    assert {"claude_code.llm_request", "claude_code.tool", "claude_code.tool.execution"} <= set(
        names
    )
    assert len({(r[0], r[1]) for r in batch.spans}) == 500
