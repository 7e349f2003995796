"""``otelwatch export``: figures equal to the recorded payloads, each format, and access while a
running otelwatch holds the database."""

from __future__ import annotations

import base64
import json
import signal
import socket
import stat
import statistics
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import start_runtime
from dashboard_data import make_app, settle, simulated_reader
from google.protobuf.json_format import MessageToDict
from markdown_it import MarkdownIt
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_clients import recorded
from store_files import build_db, otelwatch, recorded_requests
from test_serve_process import serve

from otelwatch import control
from otelwatch.export import render, summary_file_name, write_summary_file
from otelwatch.simulator import Simulator
from otelwatch.tui.header import AppInfo

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "export.schema.json").read_text())
SESSION = "611ea787-3556-45fb-bd6b-f0b752fb9e87"


# ---------------------------------------------------------------- what the payloads hold


def _value(any_value: dict[str, Any]) -> Any:
    ((kind, raw),) = any_value.items()
    return int(raw) if kind == "intValue" else raw


def _attrs(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["key"]: _value(p["value"]) for p in pairs}


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (what quantile_cont computes)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Recorded:
    """The recorded session, read straight from the protobuf payloads."""

    cost: float = 0.0
    tokens: dict[str, int] = field(default_factory=dict)
    api_durations: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    tool_durations: dict[str, list[float]] = field(default_factory=dict)
    prompt_ids: list[str] = field(default_factory=list)
    prompt_trace: str = ""
    interaction_ms: float = 0.0
    active_s: float = 0.0
    times: list[int] = field(default_factory=list)
    models: set[str] = field(default_factory=set)


def recorded_figures() -> Recorded:
    out = Recorded(tokens=dict.fromkeys(("input", "output", "cache_read", "cache_creation"), 0))
    messages = {
        "traces": ExportTraceServiceRequest,
        "logs": ExportLogsServiceRequest,
        "metrics": ExportMetricsServiceRequest,
    }
    for request in recorded("grpc"):
        message = messages[request.signal]()
        message.ParseFromString(request.body)
        doc = MessageToDict(message)
        for rs in doc.get("resourceSpans", []):
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                    out.times += [start, end]
                    if _attrs(span["attributes"])["span.type"] == "interaction":
                        out.interaction_ms = (end - start) / 1e6
                        out.prompt_trace = base64.b64decode(span["traceId"]).hex()
        for rl in doc.get("resourceLogs", []):
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    attrs = _attrs(rec["attributes"])
                    out.times.append(int(rec["timeUnixNano"]))
                    name = attrs["event.name"]
                    if name == "user_prompt":
                        out.prompt_ids.append(attrs["prompt.id"])
                    if name == "api_request":
                        out.cost += float(attrs["cost_usd"])
                        out.api_durations.append(float(attrs["duration_ms"]))
                        out.ttfts.append(float(attrs["ttft_ms"]))
                        out.models.add(attrs["model"])
                        for key in out.tokens:
                            out.tokens[key] += int(attrs[f"{key}_tokens"])
                    if name == "tool_result":
                        out.tool_durations.setdefault(attrs["tool_name"], []).append(
                            float(attrs["duration_ms"])
                        )
        for rm in doc.get("resourceMetrics", []):
            for sm in rm["scopeMetrics"]:
                for metric in sm["metrics"]:
                    for point in metric["sum"]["dataPoints"]:
                        out.times.append(int(point["timeUnixNano"]))
                        if metric["name"] == "claude_code.active_time.total":
                            out.active_s += point["asDouble"]
    return out


@pytest.fixture(scope="module")
def recorded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("export") / "recorded.duckdb", recorded_requests())


def export_json(db: Path, *args: str) -> dict[str, Any]:
    run = otelwatch("export", "--db", str(db), "--format", "json", *args)
    assert run.code == 0, run.err
    document: dict[str, Any] = json.loads(run.out)
    return document


# ---------------------------------------------------------------- the figures


def test_json_figures_equal_the_recorded_payloads(recorded_db: Path) -> None:
    exp = recorded_figures()
    doc = export_json(recorded_db)

    assert doc["session_id"] == SESSION
    assert doc["start_ns"] == min(exp.times)
    assert doc["end_ns"] == max(exp.times)
    assert doc["wall_ms"] == pytest.approx((max(exp.times) - min(exp.times)) / 1e6)
    assert doc["active_s"] == pytest.approx(exp.active_s)
    assert doc["models"] == sorted(exp.models)

    assert doc["cost_source"] == "events"
    assert doc["cost_usd"] == pytest.approx(exp.cost, abs=1e-12)
    assert [m["model"] for m in doc["cost_by_model"]] == ["claude-opus-5-5"]
    assert doc["cost_by_model"][0]["requests"] == len(exp.api_durations) == 2
    tokens = {k: doc["tokens"][k] for k in exp.tokens}
    assert tokens == exp.tokens
    prompt_side = exp.tokens["input"] + exp.tokens["cache_read"] + exp.tokens["cache_creation"]
    assert doc["tokens"]["cache_hit_ratio"] == pytest.approx(exp.tokens["cache_read"] / prompt_side)

    api = doc["api"]
    assert (api["requests"], api["errors"], api["retries"]) == (2, 0, 0)
    assert api["latency_p50_ms"] == pytest.approx(statistics.median(exp.api_durations))
    assert api["latency_p95_ms"] == pytest.approx(_quantile(exp.api_durations, 0.95))
    assert api["ttft_p50_ms"] == pytest.approx(statistics.median(exp.ttfts))

    assert [(t["name"], t["calls"], t["failures"], t["rejections"]) for t in doc["tools"]] == [
        ("Bash", 1, 0, 0)
    ]
    assert doc["tools"][0]["p50_ms"] == exp.tool_durations["Bash"][0]

    assert doc["code"] == dict.fromkeys(
        ("lines_added", "lines_removed", "commits", "pull_requests")
    )  # this session changed no file: never reported, not zero

    assert doc["turns_total"] == len(doc["turns"]) == len(exp.prompt_ids) == 1
    (turn,) = doc["turns"]
    assert turn["prompt_id"] == exp.prompt_ids[0]
    assert turn["trace_id"] == exp.prompt_trace
    assert turn["duration_ms"] == pytest.approx(exp.interaction_ms)
    assert turn["cost_usd"] == pytest.approx(exp.cost, abs=1e-12)
    assert {k: turn["tokens"][k] for k in exp.tokens} == exp.tokens
    assert (turn["api_requests"], turn["tool_calls"], turn["errors"]) == (2, 1, 0)
    assert "prompt" not in turn
    assert doc["slowest_turns"] == [
        {
            "prompt_id": exp.prompt_ids[0],
            "trace_id": exp.prompt_trace,
            "duration_ms": turn["duration_ms"],
            "command": f"otelwatch trace {exp.prompt_trace}",
        }
    ]


def test_cost_comes_from_the_metric_when_there_are_no_events(tmp_path: Path) -> None:
    metrics_only = [r for r in recorded_requests() if r[0] == "metrics"]
    db = build_db(tmp_path / "metrics.duckdb", metrics_only)
    exp_cost = 0.0
    exp_tokens: dict[str, int] = {}
    for _, _, body in metrics_only:
        message = ExportMetricsServiceRequest()
        message.ParseFromString(body)
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.sum.data_points:
                        if metric.name == "claude_code.cost.usage":
                            exp_cost += point.as_double
                        if metric.name == "claude_code.token.usage":
                            kind = next(
                                a.value.string_value for a in point.attributes if a.key == "type"
                            )
                            exp_tokens[kind] = exp_tokens.get(kind, 0) + int(point.as_double)
    doc = export_json(db)
    assert doc["cost_source"] == "metrics"
    assert doc["cost_usd"] == pytest.approx(exp_cost, abs=1e-12)
    assert doc["cost_by_model"][0]["requests"] is None
    assert doc["tokens"]["cache_read"] == exp_tokens["cacheRead"]
    assert doc["tokens"]["cache_creation"] == exp_tokens["cacheCreation"]
    assert doc["tokens"]["input"] == exp_tokens["input"]
    assert doc["api"]["source"] is None
    assert doc["turns"] == []
    md = otelwatch("export", "--db", str(db)).out
    assert "`claude_code.cost.usage`" in md


def test_a_retried_export_is_counted_once(tmp_path: Path) -> None:
    """Every request twice, as an exporter retrying after a restart would send them."""
    requests = recorded_requests()
    first = build_db(tmp_path / "twice.duckdb", requests)
    build_db(first, requests)  # a second process: its writer does not know the first copies
    assert export_json(first)["cost_usd"] == pytest.approx(recorded_figures().cost, abs=1e-12)
    doc = export_json(first)
    assert doc["api"]["requests"] == 2
    assert doc["tools"][0]["calls"] == 1


# ---------------------------------------------------------------- the formats


def _validate(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The subset of JSON Schema that docs/export.schema.json uses."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        _validate(value, SCHEMA["$defs"][name], where)
        return
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], where
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        assert any(checks[t](value) for t in types), f"{where}: {value!r} is not {types}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            assert value >= schema["minimum"], where
        if "maximum" in schema:
            assert value <= schema["maximum"], where
    if isinstance(value, dict) and "properties" in schema:
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} missing"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(schema["properties"])
            assert not extra, f"{where}: undocumented {extra}"
        for key, item in value.items():
            if key in schema["properties"]:
                _validate(item, schema["properties"][key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            _validate(item, schema["items"], f"{where}[{n}]")


@pytest.fixture(scope="module")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sessions of several prompts with retries, failures, rejections and commits."""
    sim = Simulator(seed=3, sessions=1, start_ns=1_795_472_720_000_000_000)
    requests = [
        (export.signal, "protobuf", export.body())
        for _ in range(90)
        for export in sim.advance(10.0)
    ]
    return build_db(tmp_path_factory.mktemp("sim") / "simulated.duckdb", requests)


def test_json_matches_the_documented_schema(recorded_db: Path, simulated_db: Path) -> None:
    _validate(export_json(recorded_db), SCHEMA)
    _validate(export_json(recorded_db, "--include-prompts"), SCHEMA)
    with duckdb.connect(str(simulated_db), read_only=True) as conn:
        row = conn.execute(
            "SELECT session_id FROM log_events WHERE event_name = 'user_prompt' "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    doc = export_json(simulated_db, "--include-prompts", "--session", str(row[0]))
    _validate(doc, SCHEMA)
    assert doc["turns_total"] > 1
    assert doc["tools"]
    # The documented fields the issue names.
    assert {"session_id", "cost_usd", "tokens", "tools", "turns", "api"} <= set(doc)
    assert {"input", "output", "cache_read", "cache_creation"} <= set(doc["tokens"])
    assert {"name", "calls", "failures"} <= set(doc["tools"][0])
    assert {"prompt_id", "trace_id", "cost_usd"} <= set(doc["turns"][0])
    assert {"requests", "errors"} <= set(doc["api"])


def test_prompt_text_only_when_asked_and_exported(recorded_db: Path, simulated_db: Path) -> None:
    # Most simulated sessions export prompt text (as with OTEL_LOG_USER_PROMPTS=1).
    with duckdb.connect(str(simulated_db), read_only=True) as conn:
        row = conn.execute(
            "SELECT session_id FROM log_events WHERE event_name = 'user_prompt' "
            "AND attributes->>'prompt' <> '<REDACTED>' LIMIT 1"
        ).fetchone()
    assert row is not None
    session = ("--session", str(row[0]))
    with_prompts = export_json(simulated_db, *session, "--include-prompts")
    texts = [t["prompt"] for t in with_prompts["turns"] if t["prompt"]]
    assert texts
    for fmt in ("md", "json", "html"):
        plain = otelwatch("export", "--db", str(simulated_db), *session, "--format", fmt).out
        assert not any(text in plain for text in texts), fmt
    md = otelwatch("export", "--db", str(simulated_db), *session, "--include-prompts").out
    assert texts[0] in md
    # The recorded session sent <REDACTED>: asked for, there is still no text, and a note.
    redacted = export_json(recorded_db, "--include-prompts")
    assert [t["prompt"] for t in redacted["turns"]] == [None]
    md = otelwatch("export", "--db", str(recorded_db), "--include-prompts").out
    assert "REDACTED" not in md
    assert "OTEL_LOG_USER_PROMPTS=1" in md


def _md_html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_markdown_renders_as_tables(recorded_db: Path) -> None:
    md = otelwatch("export", "--db", str(recorded_db)).out
    rendered = _md_html(md)
    # Overview, models, API, tools, code changes, turns, slowest turns.
    assert rendered.count("<table>") == 7
    assert "<td><code>611ea787-3556-45fb-bd6b-f0b752fb9e87</code></td>" in rendered
    assert "<code>otelwatch trace 9adab7ba98763ad5d2e3a59faf164050</code>" in rendered
    assert "<td>Bash</td>" in rendered
    assert "$0.0758" in md


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def test_html_is_one_self_contained_page(recorded_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.html"
    run = otelwatch("export", "--db", str(recorded_db), "-o", str(out))
    assert run.code == 0, run.err
    assert str(out) in run.err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    parsed = _Tags()
    parsed.feed(page)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parsed.tags)
    assert not [a for a, _ in parsed.attrs if a in ("src", "href") or a.startswith("on")]
    assert "url(" not in parsed.style
    assert "@import" not in parsed.style
    assert parsed.tags.count("table") == 7
    assert "otelwatch trace 9adab7ba98763ad5d2e3a59faf164050" in page


HOSTILE = "<img src=x onerror=alert(1)>|**bold**|[link](http://evil.example)\n# heading`tick`"


def _hostile_logs() -> bytes:
    """One session whose tool and model names and prompt are made to break a document."""

    def attr(key: str, value: str | int | float) -> dict[str, Any]:
        kind = {str: "stringValue", int: "intValue", float: "doubleValue"}[type(value)]
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    def record(second: int, name: str, **attrs: str | int | float) -> dict[str, Any]:
        pairs = {"session.id": "hostile-session", "prompt.id": "p1", "event.name": name}
        pairs.update(attrs, **{"event.sequence": second})
        return {
            "timeUnixNano": str(1_795_472_720_000_000_000 + second * 10**9),
            "attributes": [attr(k, v) for k, v in pairs.items()],
        }

    records = [
        record(1, "user_prompt", prompt=HOSTILE),
        record(2, "api_request", model=HOSTILE, cost_usd=0.5, duration_ms=100, input_tokens=10),
        record(3, "tool_result", tool_name=HOSTILE, success="false", duration_ms="5"),
    ]
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": [attr("service.name", HOSTILE)]},
                "scopeLogs": [{"scope": {"name": "s"}, "logRecords": records}],
            }
        ]
    }
    return json.dumps(doc).encode()


def test_telemetry_text_is_escaped_in_every_format(tmp_path: Path) -> None:
    db = build_db(tmp_path / "hostile.duckdb", [("logs", "json", _hostile_logs())])
    args = ("export", "--db", str(db), "--session", "hostile", "--include-prompts")
    doc = json.loads(otelwatch(*args, "--format", "json").out)
    assert doc["tools"][0]["name"] == HOSTILE
    assert doc["turns"][0]["prompt"] == HOSTILE
    assert doc["tools"][0]["failures"] == 1

    rendered = _md_html(otelwatch(*args, "--format", "md").out)
    assert "<img" not in rendered
    assert "<strong>bold</strong>" not in rendered
    assert "<a " not in rendered
    assert rendered.count("<h1>") == 1  # the prompt's "# heading" did not become one
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered

    page = otelwatch(*args, "--format", "html").out
    parsed = _Tags()
    parsed.feed(page)
    assert "img" not in parsed.tags
    assert not [a for a, _ in parsed.attrs if a.startswith("on") or a in ("src", "href")]
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# ---------------------------------------------------------------- choosing the session


def test_session_by_prefix_latest_and_errors(simulated_db: Path) -> None:
    with duckdb.connect(str(simulated_db), read_only=True) as conn:
        ids = [
            str(sid)
            for (sid,) in conn.execute(
                "SELECT session_id FROM log_events WHERE session_id IS NOT NULL "
                "GROUP BY 1 ORDER BY max(time_ns) DESC"
            ).fetchall()
        ]
    assert len(ids) > 1
    assert export_json(simulated_db)["session_id"] == ids[0]  # latest by default
    assert export_json(simulated_db, "--session", ids[1][:8])["session_id"] == ids[1]
    assert export_json(simulated_db, "--session", ids[1])["session_id"] == ids[1]

    shared = next(
        (a[:n] for n in range(1, 4) for a in ids for b in ids if a != b and a[:n] == b[:n]),
        "",
    )
    failures = [
        ("--session", "zzz-no-such"),
        ("--format", "xml"),
        ("--db", str(simulated_db.parent / "missing.duckdb")),
        ("--bogus",),
    ]
    if shared:
        failures.append(("--session", shared))
    for extra in failures:
        run = otelwatch("export", "--db", str(simulated_db), *extra)
        assert run.code == 2, (extra, run)
        assert run.out == ""
        assert len(run.err.strip().splitlines()) == 1, (extra, run.err)
        assert "Traceback" not in run.err


# ---------------------------------------------------------------- while otelwatch runs


def test_export_while_serve_holds_the_database(recorded_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    db.write_bytes(recorded_db.read_bytes())
    free = export_json(db)
    with serve(db):
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(db), read_only=True)
        held = export_json(db)
        md = otelwatch("export", "--db", str(db), "--session", SESSION[:6])
        assert md.code == 0, md.err
        assert "otelwatch trace 9adab7ba98763ad5d2e3a59faf164050" in md.out
    assert held == free
    # The instance is gone; the file is read directly again, and is intact.
    assert export_json(db) == free


def test_export_after_the_holder_was_killed(recorded_db: Path, tmp_path: Path) -> None:
    """A killed instance leaves its socket behind; export reads the file itself then."""
    db = tmp_path / "orphan.duckdb"
    db.write_bytes(recorded_db.read_bytes())
    free = export_json(db)
    with serve(db) as (proc, _, _):
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert export_json(db) == free


def test_the_control_socket_answers_only_its_named_queries(tmp_path: Path) -> None:
    db = tmp_path / "control.duckdb"
    runtime = start_runtime(db)
    try:
        path = control.socket_path(db)
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        key = control.database_key(db)

        def ask(request: dict[str, Any]) -> dict[str, Any]:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(path))
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer: dict[str, Any] = json.loads(sock.makefile("rb").readline())
            return answer

        base = {"protocol": control.PROTOCOL, "database": key}
        assert ask({**base, "call": "hello"})["ok"]
        # The Reader's public query methods answer; nothing else does.
        for call in ("_cursor", "__init__", "_conn", "close", "execute"):
            answer = ask({**base, "call": call})
            assert not answer["ok"]
            assert "unknown call" in answer["error"]
        counts = ask({**base, "call": "table_counts"})
        assert counts == {
            "ok": True,
            "result": {"spans": 0, "log_events": 0, "metric_points": 0, "resources": 0},
        }
        bad_args = ask({**base, "call": "events", "args": {"self": 1}})
        assert "unknown arguments" in bad_args["error"]
        assert "another database" in ask({**base, "database": "0" * 20, "call": "hello"})["error"]
        refused = ask({**base, "call": "run_sql", "args": {"sql": "DELETE FROM spans"}})
        assert refused["kind"] == "QueryRefused"
        found = ask({**base, "call": "find_sessions", "args": {"prefix": ""}})
        assert found == {"ok": True, "result": []}
    finally:
        runtime.stop()
    assert not path.exists()  # removed on stop


# ---------------------------------------------------------------- the dashboard's x key


async def test_x_on_a_session_writes_its_summary_and_says_where(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "x.duckdb")
    sessions = reader.sessions()
    out = tmp_path / "out"
    out.mkdir()
    asked: list[str] = []

    def export(session_id: str) -> str:
        asked.append(session_id)
        return str(write_summary_file(reader, session_id, out))

    info = AppInfo(db_label="test.duckdb", export_session=export)
    app = make_app(reader, start_view="2", info=info)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")  # the cursor is on the all-sessions row
        await settle(app, pilot)
        assert asked == []
        assert [n.title for n in app._notifications] == ["Nothing exported"]
        await pilot.press("down", "down", "x")
        await settle(app, pilot)
        chosen = sessions[1].session_id
        assert asked == [chosen]
        target = out / summary_file_name(chosen)
        note = list(app._notifications)[-1]
        assert note.title == "Session summary written"
        assert note.message == f"Wrote {target}"
    assert target.read_text() == render(reader.session_summary(chosen), "md")
    assert target.read_text().startswith(f"# Claude Code session {chosen[:8]}")


async def test_x_says_when_the_summary_could_not_be_written(tmp_path: Path) -> None:
    reader = simulated_reader(tmp_path / "y.duckdb")

    def export(session_id: str) -> str:
        return str(write_summary_file(reader, session_id, tmp_path / "missing" / "dir"))

    app = make_app(reader, start_view="2", info=AppInfo(db_label="t.duckdb", export_session=export))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "x")
        await settle(app, pilot)
        note = list(app._notifications)[-1]
        assert note.title == "Export failed"
        assert "No such file or directory" in note.message
