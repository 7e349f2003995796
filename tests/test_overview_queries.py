"""The Overview and Sessions queries, over data sent to a real listener and stored by the writer.

The temporality tests send the same spend twice, as a DELTA sender (Claude Code) and as a
CUMULATIVE one (with a restart and a repeated point), and require the same totals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import grpc
import pytest
from conftest import start_runtime
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
)
from otlp_clients import grpc_export
from tui_harness import RECORDED_NOW_NS, recorded_store

from otelwatch.runtime import Runtime
from otelwatch.store import database
from otelwatch.store.queries.overview import (
    CostSeries,
    cache_hit_ratio,
    timeline_window,
)
from otelwatch.store.reader import Reader

S = 1_000_000_000
T0 = 1_795_472_720 * S

# (seconds after T0, increments) of one session: cost, the four token kinds, lines, commits,
# pull requests and active time, as Claude Code counts them.
STEPS: list[tuple[int, dict[tuple[str, str | None], float]]] = [
    (
        10,
        {
            ("claude_code.cost.usage", None): 0.25,
            ("claude_code.token.usage", "input"): 1000,
            ("claude_code.token.usage", "output"): 200,
            ("claude_code.token.usage", "cacheRead"): 3000,
            ("claude_code.token.usage", "cacheCreation"): 500,
            ("claude_code.lines_of_code.count", "added"): 40,
            ("claude_code.active_time.total", "cli"): 3.5,
        },
    ),
    (
        20,
        {
            ("claude_code.cost.usage", None): 0.5,
            ("claude_code.token.usage", "input"): 100,
            ("claude_code.token.usage", "output"): 50,
            ("claude_code.token.usage", "cacheRead"): 7000,
            ("claude_code.lines_of_code.count", "removed"): 12,
            ("claude_code.commit.count", None): 1,
            ("claude_code.active_time.total", "user"): 9.0,
        },
    ),
    (
        30,
        {
            ("claude_code.cost.usage", None): 0.125,
            ("claude_code.token.usage", "output"): 25,
            ("claude_code.pull_request.count", None): 1,
            ("claude_code.active_time.total", "cli"): 1.5,
        },
    ),
]
UNITS = {"claude_code.cost.usage": "USD", "claude_code.token.usage": "tokens"}


def metrics_request(
    session: str,
    points: list[tuple[str, str | None, int, int, float]],
    temporality: int,
    model: str = "claude-sonnet-5",
) -> bytes:
    """One export: ``(metric, type, start_ns, time_ns, value)`` points of one session."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "claude-code"
    scope = rm.scope_metrics.add()
    scope.scope.name = "com.anthropic.claude_code"
    for name, kind, start, time, value in points:
        metric = scope.metrics.add(name=name, unit=UNITS.get(name, ""))
        metric.sum.aggregation_temporality = temporality  # type: ignore[assignment]
        metric.sum.is_monotonic = True
        point = metric.sum.data_points.add(
            start_time_unix_nano=start, time_unix_nano=time, as_double=value
        )
        point.attributes.add(key="session.id").value.string_value = session
        if name in UNITS:
            point.attributes.add(key="model").value.string_value = model
        if kind is not None:
            point.attributes.add(key="type").value.string_value = kind
    return request.SerializeToString()


def delta_exports(session: str) -> list[bytes]:
    """The steps as Claude Code sends them: each point the increase since the last export."""
    exports = []
    previous = T0
    for at, increments in STEPS:
        time = T0 + at * S
        points = [(n, k, previous, time, v) for (n, k), v in increments.items()]
        exports.append(metrics_request(session, points, AGGREGATION_TEMPORALITY_DELTA))
        previous = time
    return exports


def cumulative_exports(session: str) -> list[bytes]:
    """The same steps as a CUMULATIVE sender: running totals of every series since its start,
    re-sent each export; the sender restarts before the last step (new start time, totals
    from zero), and one export is sent twice."""
    exports = []
    totals: dict[tuple[str, str | None], float] = {}
    start = T0
    for index, (at, increments) in enumerate(STEPS):
        time = T0 + at * S
        if index == len(STEPS) - 1:
            start, totals = T0 + (at - 1) * S, {}
        for key, value in increments.items():
            totals[key] = totals.get(key, 0.0) + value
        points = [(n, k, start, time, v) for (n, k), v in totals.items()]
        exports.append(metrics_request(session, points, AGGREGATION_TEMPORALITY_CUMULATIVE))
    return [*exports[:2], exports[1], *exports[2:]]


def api_request_events(session: str, costs: list[tuple[int, float]]) -> bytes:
    """``api_request`` events of one session: ``(seconds after T0, cost)`` each."""
    request = ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for seq, (at, cost) in enumerate(costs):
        record = scope.log_records.add(time_unix_nano=T0 + at * S)
        record.body.string_value = "claude_code.api_request"
        attrs = {
            "event.name": "api_request",
            "session.id": session,
            "model": "claude-opus-5-5",
        }
        for key, value in attrs.items():
            record.attributes.add(key=key).value.string_value = value
        record.attributes.add(key="event.sequence").value.int_value = seq
        record.attributes.add(key="cost_usd").value.double_value = cost
        record.attributes.add(key="input_tokens").value.int_value = 10
        record.attributes.add(key="output_tokens").value.int_value = 5
        record.attributes.add(key="cache_read_tokens").value.int_value = 30
        record.attributes.add(key="cache_creation_tokens").value.int_value = 0
        record.attributes.add(key="duration_ms").value.string_value = "1200"
        record.attributes.add(key="ttft_ms").value.int_value = 300 + 100 * seq
    return request.SerializeToString()


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = start_runtime(tmp_path / "q.duckdb")
    yield runtime
    runtime.stop()


def send(runtime: Runtime, signal: str, body: bytes) -> None:
    assert runtime.grpc_address is not None
    answer = grpc_export(runtime.grpc_address, signal, body)
    assert answer.code == grpc.StatusCode.OK, answer


def test_cumulative_sender_totals_equal_delta_sender_totals(rt: Runtime) -> None:
    for body in delta_exports("delta-session"):
        send(rt, "metrics", body)
    for body in cumulative_exports("cumulative-session"):
        send(rt, "metrics", body)
    reader = rt.reader()

    delta, cumulative = reader.usage("delta-session"), reader.usage("cumulative-session")
    assert delta.total.cost_usd == pytest.approx(0.875)
    assert cumulative.total == delta.total
    assert (delta.total.input_tokens, delta.total.output_tokens) == (1100, 275)
    assert (delta.total.cache_read_tokens, delta.total.cache_creation_tokens) == (10000, 500)
    assert delta.source.metric_sessions == 1 and delta.source.event_sessions == 0

    expected_activity = reader.activity("delta-session")
    assert reader.activity("cumulative-session") == expected_activity
    assert (expected_activity.lines_added, expected_activity.lines_removed) == (40, 12)
    assert (expected_activity.commits, expected_activity.pull_requests) == (1, 1)
    assert (expected_activity.active_user_s, expected_activity.active_cli_s) == (9.0, 5.0)

    rows = {row.session_id: row for row in reader.sessions()}
    assert rows["cumulative-session"].cost_usd == pytest.approx(rows["delta-session"].cost_usd)
    assert rows["cumulative-session"].tokens == rows["delta-session"].tokens == 11875
    assert not rows["delta-session"].priced_from_events

    both = reader.usage(None)
    assert both.total.cost_usd == pytest.approx(2 * 0.875)
    assert both.source.metric_sessions == 2


def test_spend_comes_from_events_when_a_session_sent_them_never_from_both(rt: Runtime) -> None:
    # "both": events and metrics describe the same 0.875 USD; "metrics-only" has only metrics.
    send(rt, "logs", api_request_events("both", [(10, 0.25), (20, 0.5), (30, 0.125)]))
    for body in delta_exports("both"):
        send(rt, "metrics", body)
    for body in delta_exports("metrics-only"):
        send(rt, "metrics", body)
    reader = rt.reader()

    both = reader.usage("both")
    assert both.total.cost_usd == pytest.approx(0.875)
    assert both.total.requests == 3
    # Tokens from the events too (3 x 10 input), not from the metrics (1100).
    assert both.total.input_tokens == 30
    assert [m.model for m in both.by_model] == ["claude-opus-5-5"]
    assert (both.source.event_sessions, both.source.metric_sessions) == (1, 0)

    everything = reader.usage(None)
    assert everything.total.cost_usd == pytest.approx(0.875 + 0.875)
    assert (everything.source.event_sessions, everything.source.metric_sessions) == (1, 1)
    assert {m.model for m in everything.by_model} == {"claude-opus-5-5", "claude-sonnet-5"}

    rows = {row.session_id: row for row in reader.sessions()}
    assert rows["both"].priced_from_events and not rows["metrics-only"].priced_from_events
    assert rows["both"].cost_usd == pytest.approx(0.875)
    assert rows["both"].models == ("claude-opus-5-5",)

    api = reader.api_health("both")
    assert api.requests == 3 and api.latency_p50_ms == 1200.0
    assert api.ttft_p50_ms == 400.0


def test_cost_series_buckets_and_burn_windows(rt: Runtime) -> None:
    send(rt, "logs", api_request_events("s", [(10, 1.0), (70, 2.0), (75, 0.5), (290, 4.0)]))
    reader = rt.reader()
    series = reader.cost_series("s", T0, T0 + 300 * S, 5)
    assert series.bucket_ns == 60 * S
    assert series.values == (1.0, 2.5, 0.0, 0.0, 4.0)
    assert series.spent_since(T0 + 60 * S) == 6.5
    assert series.spent_since(T0 + 61 * S) == 4.0
    assert series.spent_since(T0) == 7.5
    # The last item exactly at the end is counted (in the last bucket).
    assert reader.cost_series("s", T0 + 10 * S, T0 + 290 * S, 2).values == (3.5, 4.0)

    overview = reader.overview("s", T0 + 300 * S)
    assert sum(overview.recent.values) == 7.5
    assert overview.timeline.end_ns == T0 + 300 * S
    assert sum(overview.timeline.values) == 7.5


def test_timeline_window_follows_now_while_recent_and_the_data_when_old() -> None:
    now = T0 + 10_000 * S
    # A session that started 20 minutes ago: the whole session, ending now.
    assert timeline_window(now - 1200 * S, now - 5 * S, now) == (now - 1200 * S, now)
    # A new session: at least five minutes.
    assert timeline_window(now - 20 * S, now - 5 * S, now) == (now - 300 * S, now)
    # Data from days ago: its own period, ending at the last item.
    old_first, old_last = T0 - 86400 * 5 * S, T0 - 86400 * 5 * S + 600 * S
    assert timeline_window(old_first, old_last, now) == (old_first, old_last + 1)
    # Never more than a day.
    start, end = timeline_window(now - 3 * 86400 * S, now, now)
    assert end - start == 86400 * S
    assert timeline_window(None, None, now) == (now - 300 * S, now)


def test_cost_series_spent_since_rounds_to_whole_buckets() -> None:
    series = CostSeries(start_ns=0, bucket_ns=10, values=(1.0, 2.0, 3.0))
    assert series.spent_since(0) == 6.0
    assert series.spent_since(-100) == 6.0
    assert series.spent_since(10) == 5.0
    assert series.spent_since(11) == 3.0
    assert series.spent_since(30) == 0.0
    assert series.end_ns == 30


def test_cache_hit_ratio() -> None:
    assert cache_hit_ratio(100, 300, 100) == 0.6
    assert cache_hit_ratio(0, 0, 0) is None
    assert cache_hit_ratio(10, 0, 0) == 0.0


def test_recorded_session_panels(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    overview = reader.overview(None, RECORDED_NOW_NS)
    assert overview.has_data
    # The recording has both api_request events and cost metrics for the same two requests.
    assert overview.usage.total.cost_usd == pytest.approx(0.0758434)
    assert overview.usage.total.requests == 2
    assert [(t.tool_name, t.calls, t.failures, t.p50_ms, t.accepts) for t in overview.tools] == [
        ("Bash", 1, 0, 201.0, 1)
    ]
    assert [(d.decision, d.source, d.count) for d in overview.decisions] == [
        ("accept", "config", 1)
    ]
    assert overview.api.requests == 2 and overview.api.errors == 0
    assert overview.api.ttft_p50_ms == 75.0
    assert overview.activity.active_cli_s == pytest.approx(1.969)
    assert overview.activity.prompts == 1
    (session,) = reader.sessions()
    assert session.session_id == "611ea787-3556-45fb-bd6b-f0b752fb9e87"
    assert (session.prompts, session.tool_calls, session.errors) == (1, 1, 0)
    assert session.tokens == 2892 + 70 + 10102 + 12171


def test_sessions_filter_and_empty_database(tmp_path: Path) -> None:
    reader = recorded_store(tmp_path / "r.duckdb")
    assert len(reader.sessions(text="611EA")) == 1
    assert len(reader.sessions(text="opus")) == 1
    assert reader.sessions(text="nothing like it") == []
    assert reader.sessions(text="%") == []
    empty = Reader(database.connect(tmp_path / "empty.duckdb"))
    assert empty.sessions() == []
    overview = empty.overview(None, RECORDED_NOW_NS)
    assert not overview.has_data
    assert overview.usage.by_model == () and overview.tools == ()
    assert overview.api.latency_p50_ms is None


def test_migration_fills_the_promoted_columns_of_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    (first,) = [m for m in database.migrations() if m.version == 1]
    with duckdb.connect(str(path)) as conn:
        conn.execute(first.sql)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ns BIGINT)")
        conn.execute("INSERT INTO schema_version VALUES (1, 0)")
        conn.execute(
            """
            INSERT INTO log_events (time_ns, observed_ns, received_ns, resource_id, event_name,
                                    severity_number, attributes)
            VALUES (1, 1, 1, 'r', 'api_request', 0, '{"ttft_ms": "412"}'),
                   (2, 2, 2, 'r', 'tool_decision', 0, '{"source": "user_reject"}'),
                   (3, 3, 3, 'r', 'tool_result', 0, '{"source": "not a decision"}')
            """
        )
    conn = database.connect(path)
    rows = conn.execute(
        "SELECT event_name, ttft_ms, decision_source FROM log_events ORDER BY time_ns"
    ).fetchall()
    conn.close()
    assert rows == [
        ("api_request", 412.0, None),
        ("tool_decision", None, "user_reject"),
        ("tool_result", None, None),
    ]
