"""Hand-built OTLP requests for the trace tests: spans and log events with the shape Claude Code
sends, fully under the test's control (ids, times, parents, status, attributes)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from otelwatch.ingest import otlp_proto
from otelwatch.store import database
from otelwatch.store.reader import Reader
from otelwatch.store.writer import Committed, Writer

T0 = 1_795_472_700_000_000_000
"""A fixed start, shortly before the recorded session (the tests' clock is after it)."""
MS = 1_000_000


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attrs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_value(v)) for k, v in attrs.items()]


def hex_id(n: int, size: int) -> str:
    """A readable fixed id: ``n`` in hex, left-padded to ``size`` bytes."""
    return f"{n:0{size * 2}x}"


@dataclass
class SpanSpec:
    """One span to send. Times are milliseconds after ``T0``."""

    trace: int
    span: int
    parent: int | None
    name: str
    start_ms: float
    end_ms: float
    error: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    session: str = "sess-1"

    @property
    def trace_id(self) -> str:
        return hex_id(self.trace, 16)

    @property
    def span_id(self) -> str:
        return hex_id(self.span, 8)


def spans_request(specs: list[SpanSpec], service: str = "claude-code") -> bytes:
    """An ExportTraceServiceRequest holding ``specs``, serialized."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend(_attrs({"service.name": service, "service.version": "2.1.330"}))
    scope = rs.scope_spans.add()
    scope.scope.name = "com.anthropic.claude_code.tracing"
    scope.scope.version = "1.0.0"
    for spec in specs:
        span = scope.spans.add(
            trace_id=bytes.fromhex(spec.trace_id),
            span_id=bytes.fromhex(spec.span_id),
            name=spec.name,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=T0 + int(spec.start_ms * MS),
            end_time_unix_nano=T0 + int(spec.end_ms * MS),
        )
        if spec.parent is not None:
            span.parent_span_id = bytes.fromhex(hex_id(spec.parent, 8))
        attrs = {"session.id": spec.session}
        short = spec.name.removeprefix("claude_code.")
        if short != spec.name:
            attrs["span.type"] = short
        attrs.update(spec.attrs)
        span.attributes.extend(_attrs(attrs))
        if spec.error is not None:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=spec.error))
        for at_ms, name, event_attrs in spec.events:
            event = span.events.add(time_unix_nano=T0 + int(at_ms * MS), name=name)
            event.attributes.extend(_attrs(event_attrs))
    return request.SerializeToString()


@dataclass
class EventSpec:
    """One Claude Code event (a log record) to send, tied to a span."""

    name: str
    at_ms: float
    trace: int | None
    span: int | None
    attrs: dict[str, Any] = field(default_factory=dict)
    session: str = "sess-1"
    sequence: int = 0


def events_request(specs: list[EventSpec]) -> bytes:
    """An ExportLogsServiceRequest holding ``specs`` as Claude Code events, serialized."""
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.extend(_attrs({"service.name": "claude-code"}))
    scope = rl.scope_logs.add()
    scope.scope.name = "com.anthropic.claude_code.events"
    for n, spec in enumerate(specs):
        record = scope.log_records.add(time_unix_nano=T0 + int(spec.at_ms * MS))
        record.body.string_value = f"claude_code.{spec.name}"
        if spec.trace is not None:
            record.trace_id = bytes.fromhex(hex_id(spec.trace, 16))
        if spec.span is not None:
            record.span_id = bytes.fromhex(hex_id(spec.span, 8))
        attrs = {
            "event.name": spec.name,
            "session.id": spec.session,
            "event.sequence": spec.sequence or n + 1,
        }
        attrs.update(spec.attrs)
        record.attributes.extend(_attrs(attrs))
    return request.SerializeToString()


def turn(
    trace: int, *, session: str = "sess-1", start_ms: float = 0.0, base: int = 0
) -> list[SpanSpec]:
    """A Claude Code turn: interaction > llm_request, tool (blocked_on_user, execution),
    llm_request. ``base`` offsets the span ids so turns do not share them."""
    s = start_ms
    return [
        SpanSpec(trace, base + 1, None, "claude_code.interaction", s, s + 2000, session=session),
        SpanSpec(
            trace,
            base + 2,
            base + 1,
            "claude_code.llm_request",
            s + 100,
            s + 900,
            attrs={
                "model": "claude-opus-5-5",
                "request_id": f"req_{trace}_a",
                "input_tokens": "100",
            },
            events=[(s + 101, "gen_ai.request.attempt", {"attempt": 1})],
            session=session,
        ),
        SpanSpec(
            trace,
            base + 3,
            base + 1,
            "claude_code.tool",
            s + 850,
            s + 1500,
            attrs={"tool_name": "Bash", "tool_use_id": f"toolu_{trace}"},
            session=session,
        ),
        SpanSpec(
            trace,
            base + 4,
            base + 3,
            "claude_code.tool.blocked_on_user",
            s + 860,
            s + 1100,
            session=session,
        ),
        SpanSpec(
            trace,
            base + 5,
            base + 3,
            "claude_code.tool.execution",
            s + 1100,
            s + 1490,
            attrs={"tool_use_id": f"toolu_{trace}", "success": False},
            error="ShellError",
            session=session,
        ),
        SpanSpec(
            trace,
            base + 6,
            base + 1,
            "claude_code.llm_request",
            s + 1550,
            s + 1950,
            attrs={"model": "claude-opus-5-5", "request_id": f"req_{trace}_b"},
            session=session,
        ),
    ]


def turn_events(
    trace: int,
    *,
    prompt: str,
    session: str = "sess-1",
    start_ms: float = 0.0,
    base: int = 0,
    seq: int = 0,
) -> list[EventSpec]:
    """The events of :func:`turn`: prompt, two priced requests, tool decision and result."""
    s, root = start_ms, base + 1
    return [
        EventSpec(
            "user_prompt",
            s + 5,
            trace,
            root,
            {"prompt": prompt, "prompt_length": str(len(prompt))},
            session,
            seq + 1,
        ),
        EventSpec(
            "api_request",
            s + 900,
            trace,
            root,
            {
                "cost_usd": 0.25,
                "input_tokens": 1000,
                "output_tokens": 50,
                "cache_read_tokens": 0,
                "cache_creation_tokens": 0,
                "request_id": f"req_{trace}_a",
                "model": "claude-opus-5-5",
            },
            session,
            seq + 2,
        ),
        EventSpec(
            "tool_decision",
            s + 1100,
            trace,
            base + 4,
            {
                "tool_name": "Bash",
                "tool_use_id": f"toolu_{trace}",
                "decision": "accept",
                "source": "user_temporary",
            },
            session,
            seq + 3,
        ),
        EventSpec(
            "tool_result",
            s + 1495,
            trace,
            root,
            {
                "tool_name": "Bash",
                "tool_use_id": f"toolu_{trace}",
                "success": "false",
                "duration_ms": "390",
                "error": "exit 1",
            },
            session,
            seq + 4,
        ),
        EventSpec(
            "api_request",
            s + 1950,
            trace,
            root,
            {
                "cost_usd": 0.5,
                "input_tokens": 2000,
                "output_tokens": 20,
                "cache_read_tokens": 500,
                "cache_creation_tokens": 0,
                "request_id": f"req_{trace}_b",
                "model": "claude-opus-5-5",
            },
            session,
            seq + 5,
        ),
    ]


class LiveStore:
    """A real database written by the real writer, that a test can keep adding to."""

    def __init__(self, path: Path, on_commit: Callable[[Committed], None] | None = None) -> None:
        self.conn = database.connect(path)
        self._on_commit = on_commit
        self.writer = Writer(self.conn, on_commit=on_commit)
        self.writer.start()
        self.reader = Reader(self.conn)

    def send(self, signal: str, body: bytes) -> None:
        """Decode ``body`` (protobuf) as otelwatch's listeners do, and write it."""
        decode = {
            "traces": otlp_proto.decode_traces,
            "logs": otlp_proto.decode_logs,
            "metrics": otlp_proto.decode_metrics,
        }[signal]
        self.writer.write(decode(body, T0))

    def restart_writer(self) -> None:
        """A new writer, as after a restart: it no longer remembers what it stored."""
        self.writer.close()
        self.writer = Writer(self.conn, on_commit=self._on_commit)
        self.writer.start()

    def close(self) -> None:
        """Stop the writer (the reader stays usable)."""
        self.writer.close()


def big_trace(trace: int, count: int, *, width_ms: float = 60_000.0) -> list[SpanSpec]:
    """A trace of ``count`` spans: a root over a minute, and a ten-way tree under it in which
    each span's children run one after the other inside it; every 997th span failed."""
    interval = {1: (0.0, width_ms)}
    specs = [SpanSpec(trace, 1, None, "claude_code.interaction", 0, width_ms)]
    for n in range(2, count + 1):
        parent = (n - 2) // 10 + 1
        slot = (n - 2) % 10
        start, end = interval[parent]
        step = (end - start) / 10
        mine = (start + slot * step, start + slot * step + step * 0.9)
        interval[n] = mine
        model_call = n % 3 == 0
        specs.append(
            SpanSpec(
                trace,
                n,
                parent,
                "claude_code.llm_request" if model_call else "claude_code.tool",
                mine[0],
                mine[1],
                error="failed" if n % 997 == 0 else None,
                attrs={"model": "claude-opus-5-5"}
                if model_call
                else {"tool_name": f"Tool{n % 13}"},
            )
        )
    return specs


def agent_turn(trace: int, *, session: str = "sess-1", start_ms: float = 0.0) -> list[SpanSpec]:
    """A longer Claude Code turn: model calls, Read and Edit tools with waits for the user, and
    a Task tool whose sub-agent runs its own model calls and tools (one Bash call fails)."""
    s = start_ms
    out: list[SpanSpec] = []
    ids = iter(range(1, 100))

    def span(parent: int | None, name: str, a: float, b: float, **kw: Any) -> int:
        n = next(ids)
        out.append(SpanSpec(trace, n, parent, name, s + a, s + b, session=session, **kw))
        return n

    def tool(parent: int, name: str, a: float, wait: float, b: float, **kw: Any) -> int:
        n = span(parent, "claude_code.tool", a, b, attrs={"tool_name": name})
        span(n, "claude_code.tool.blocked_on_user", a + 5, a + 5 + wait)
        span(n, "claude_code.tool.execution", a + 6 + wait, b - 10, **kw)
        return n

    model = {"model": "claude-sonnet-5"}
    root = span(None, "claude_code.interaction", 0, 42_000)
    span(root, "claude_code.llm_request", 300, 6200, attrs=model)
    tool(root, "Read", 6000, 4, 6150)
    span(root, "claude_code.llm_request", 6200, 14_000, attrs=model)
    task = tool(root, "Task", 13_900, 4, 30_000)
    span(task, "claude_code.llm_request", 14_000, 19_000, attrs=model)
    tool(task, "Grep", 18_900, 3, 19_300)
    span(task, "claude_code.llm_request", 19_400, 25_000, attrs=model)
    tool(task, "Bash", 24_900, 2_900, 29_800, error="ShellError")
    span(root, "claude_code.llm_request", 30_100, 36_000, attrs=model)
    tool(root, "Edit", 35_900, 2_300, 39_500)
    span(root, "claude_code.llm_request", 39_600, 41_900, attrs=model)
    return out


async def settle(app: App[Any], pilot: Pilot[Any], pause: float = 0.0) -> None:
    """Let the app's queries finish and their results reach the screen. A load superseded by
    a newer one is cancelled, which is not a failure."""
    await pilot.pause(pause)
    for _ in range(3):
        for worker in list(app.workers):
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
        await pilot.pause()
