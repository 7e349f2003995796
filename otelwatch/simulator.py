"""A deterministic generator of the OpenTelemetry that Claude Code 2.1.330 exports.

It feeds ``otelwatch demo`` (through otelwatch's own OTLP listener) and the benchmarks. Everything
copies the recorded requests in ``tests/fixtures/claude-code/`` and the research note on what Claude
Code exports: span, event and metric names, attribute keys and their value types (digit strings
where Claude Code sends strings), resource and scope, span flags, and the habits of the exporters
(spans batched as they end, so children travel before their parents; events batched every few
seconds; metrics as DELTA sums aggregated per export interval).

Model of the world: ``sessions`` Claude Code processes run side by side, started by a small team
of developers (each with a ``user.id``, a machine and a terminal). Each process is a session (its
own ``session.id``, resource and exporters) that takes a few prompts and then quits, after which a
new session takes its slot. A prompt is one trace: an ``interaction`` span, the model calls
(``llm_request``) and the tool calls (``tool`` with ``blocked_on_user`` and ``execution``) it
makes, plus the events and metric increments that go with them. Sometimes a call is retried,
retries run out, a tool fails, the user rejects a tool, or a call is slow.

Nothing here reads the clock or the global ``random``: the same seed and start time give the same
requests, byte for byte.

Example::

    sim = Simulator(seed=7, sessions=3, start_ns=time.time_ns())
    for export in sim.advance(5.0):       # the next five simulated seconds
        send(export.signal, export.body())
"""

from __future__ import annotations

import heapq
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_DELTA,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

Signal = Literal["traces", "logs", "metrics"]
ExportRequest = ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest
AttrValue = str | bool | int | float | list[str]
Attrs = dict[str, AttrValue]
_T = TypeVar("_T")

APP_VERSION = "2.1.330"
METRICS_SCOPE = InstrumentationScope(name="com.anthropic.claude_code", version=APP_VERSION)
EVENTS_SCOPE = InstrumentationScope(name="com.anthropic.claude_code.events", version=APP_VERSION)
TRACING_SCOPE = InstrumentationScope(name="com.anthropic.claude_code.tracing", version="1.0.0")

# The time of the recorded fixtures (2026-11-23), a fine default for tests and benchmarks.
DEFAULT_START_NS = 1_795_472_720_000_000_000

_MS = 1_000_000
_S = 1_000_000_000

# The OTel JS batch processors export when this many items wait, whatever the timer says.
MAX_EXPORT_BATCH = 512

# Span flags as the JS SDK sets them: sampled, plus "the is-remote bit is known" (0x100).
_SPAN_FLAGS = 0x101
_LOG_FLAGS_SAMPLED = 1

# --------------------------------------------------------------------------- prices


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_read: float
    cache_write: float


# claude-opus-5-5 reproduces the recorded costs exactly (1881 in, 53 out, 10656 cache writes cost
# 0.061864 USD); the others follow the usual ratios (reads 0.1x, 5-minute writes 1.25x input).
PRICES: dict[str, Price] = {
    "claude-opus-5-5": Price(4.0, 20.0, 0.2, 5.0),
    "claude-sonnet-5": Price(3.0, 15.0, 0.3, 3.75),
    "claude-haiku-4-5": Price(1.0, 5.0, 0.1, 1.25),
}
_EFFORT_MODELS = frozenset({"claude-opus-5-5", "claude-sonnet-5"})

# Costs are rounded to a multiple of 2**-40 USD (about 1e-12, far below anything shown). Such
# numbers add up exactly in binary floating point, so the sum of the api_request events equals the
# sum of the cost.usage points bit for bit, whatever the order or grouping of the additions.
_COST_QUANTUM = 2.0**-40


def price_usd(model: str, input: int, output: int, cache_read: int, cache_write: int) -> float:
    """What one API response costs, as Claude Code would report it (see ``_COST_QUANTUM``)."""
    p = PRICES[model]
    raw = math.fsum(
        (input * p.input, output * p.output, cache_read * p.cache_read, cache_write * p.cache_write)
    )
    return round(raw / 1e6 / _COST_QUANTUM) * _COST_QUANTUM


# --------------------------------------------------------------------------- exports


@dataclass(frozen=True, slots=True)
class Export:
    """One export request, as one Claude Code process would send it at ``time_ns``."""

    signal: Signal
    time_ns: int
    session_id: str
    request: ExportRequest
    items: int

    def body(self) -> bytes:
        """The serialized protobuf request (a gRPC message or an HTTP/protobuf body)."""
        return self.request.SerializeToString()


# --------------------------------------------------------------------------- small helpers


def _any(value: AttrValue) -> AnyValue:
    # bool first: it is an int to Python.
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
    return AnyValue(string_value=value)


def _key_values(attrs: Attrs) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any(v)) for k, v in attrs.items()]


def _iso(ns: int) -> str:
    """``event.timestamp``: ISO-8601 in UTC with milliseconds, as JavaScript's toISOString."""
    seconds, rest = divmod(ns, _S)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // _MS:03d}Z"


def _ms_floor(ns: int) -> int:
    # Span starts, event and metric times come from Date.now(): whole milliseconds.
    return ns - ns % _MS


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Rand:
    """The session's random source, with the few shapes of randomness the simulation needs."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)  # noqa: S311 (a reproducible simulation, not secrets)

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def uniform(self, low: float, high: float) -> float:
        return self._r.uniform(low, high)

    def log_uniform(self, low: float, high: float) -> float:
        """Many small values and a few large ones, like durations and sizes."""
        return math.exp(self._r.uniform(math.log(low), math.log(high)))

    def int_between(self, low: int, high: int) -> int:
        return self._r.randint(low, high)

    def ms(self, low: float, high: float) -> int:
        """A duration in nanoseconds, log-uniform between ``low`` and ``high`` milliseconds."""
        return int(self.log_uniform(low, high) * _MS)

    def pick(self, items: list[Any] | tuple[Any, ...]) -> Any:
        return items[self._r.randrange(len(items))]

    def weighted(self, options: dict[str, float]) -> str:
        return self._r.choices(list(options), weights=list(options.values()))[0]

    def bits(self, n: int) -> int:
        return self._r.getrandbits(n)

    def hex(self, chars: int) -> str:
        return f"{self._r.getrandbits(chars * 4):0{chars}x}"

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self._r.getrandbits(128), version=4))

    def trace_id(self) -> bytes:
        return (self._r.getrandbits(128) | 1).to_bytes(16, "big")

    def span_id(self) -> bytes:
        return (self._r.getrandbits(64) | 1).to_bytes(8, "big")


# --------------------------------------------------------------------------- the cast

# (name, language, files) of the repositories the simulated developers work in.
_PROJECTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "payments-api",
        "Python",
        (
            "src/payments/api.py",
            "src/payments/ledger.py",
            "src/payments/models.py",
            "src/payments/retry.py",
            "tests/test_ledger.py",
            "tests/test_api.py",
            "pyproject.toml",
        ),
    ),
    (
        "web-dashboard",
        "TypeScript",
        (
            "src/components/Chart.tsx",
            "src/components/Table.tsx",
            "src/hooks/useSession.ts",
            "src/api/client.ts",
            "src/pages/index.tsx",
            "package.json",
        ),
    ),
    (
        "ingest-worker",
        "Go",
        (
            "cmd/worker/main.go",
            "internal/queue/queue.go",
            "internal/queue/queue_test.go",
            "internal/store/store.go",
            "go.mod",
        ),
    ),
)

_PROMPTS = (
    "fix the failing test in the ledger module",
    "add pagination to the sessions table",
    "why does the retry loop never give up? make it stop after five attempts",
    "refactor the client to use async/await and keep the public API the same",
    "write tests for the queue package",
    "rename the Chart props to match the design doc",
    "look at the open issues about timeouts and summarize them",
    "bump the dependencies and make sure the build still passes",
    "add a --dry-run flag to the worker",
    "explain how the ledger reconciles partial refunds",
    "commit this and open a pull request",
    "the dashboard is blank on first load, find out why",
)

# Bash commands: (command, class, typical ms, slowest ms, failure rate).
_BASH: tuple[tuple[str, str, float, float, float], ...] = (
    ("git status", "vcs", 20, 150, 0.0),
    ("git diff --stat", "vcs", 20, 200, 0.0),
    ("ls -la src", "file_ops", 5, 40, 0.0),
    ("rg -n 'TODO' src", "search", 20, 300, 0.05),
    ("pytest -q", "test_runner", 2500, 120_000, 0.3),
    ("npm test", "package_manager", 4000, 110_000, 0.3),
    ("npm run build", "package_manager", 6000, 45_000, 0.1),
    ("go test ./...", "test_runner", 3000, 60_000, 0.25),
    ("make lint", "build", 1500, 20_000, 0.2),
    ("echo $PATH", "shell_builtin", 2, 10, 0.0),
)
_SLOW_BASH_RATE = 0.4  # share of long-running commands (tests, builds) that run long

MCP_TOOL = "mcp__github__search_issues"
# Every tool the simulated sessions use.
TOOLS = ("Bash", "Read", "Edit", "Write", "Grep", "Glob", "WebFetch", "TodoWrite", "Task", MCP_TOOL)
_READ_ONLY = frozenset({"Read", "Grep", "Glob"})

# What the model reaches for, step by step: exploring first, then editing, then running things.
_EARLY_TOOLS: dict[str, float] = {
    "Read": 5,
    "Grep": 3,
    "Glob": 2,
    "Task": 0.6,
    "WebFetch": 0.4,
    MCP_TOOL: 0.4,
}
_LATE_TOOLS: dict[str, float] = {
    "Edit": 5,
    "Bash": 4,
    "Read": 2,
    "Write": 1,
    "TodoWrite": 1,
    "Grep": 1,
}

# Metric names, units and descriptions; points are exported in this order, like the JS SDK does
# (instrument creation order).
METRICS: dict[str, tuple[str, str]] = {
    "claude_code.session.count": ("", "Count of CLI sessions started"),
    "claude_code.lines_of_code.count": (
        "",
        "Count of lines of code modified, with the 'type' attribute indicating whether lines "
        "were added or removed",
    ),
    "claude_code.pull_request.count": ("", "Number of pull requests created"),
    "claude_code.commit.count": ("", "Number of git commits created"),
    "claude_code.cost.usage": ("USD", "Cost of the Claude Code session"),
    "claude_code.token.usage": ("tokens", "Number of tokens used"),
    "claude_code.code_edit_tool.decision": (
        "",
        "Count of code editing tool permission decisions (accept/reject) for Edit, Write, and "
        "NotebookEdit tools",
    ),
    "claude_code.active_time.total": ("s", "Total active time in seconds"),
}

# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class _Event:
    """An event waiting for its export; ``event.sequence`` is given when it is exported."""

    time_ns: int
    order: int
    name: str
    prompt_id: str | None
    attrs: Attrs
    trace_id: bytes = b""
    span_id: bytes = b""


@dataclass(slots=True)
class _Increment:
    """One ``counter.add()``: folded into a delta point at the next metric export."""

    time_ns: int
    order: int
    metric: str
    attrs: tuple[tuple[str, AttrValue], ...]
    value: float


@dataclass(slots=True)
class _Agent:
    """Who is calling the model: the main loop, or a sub-agent started by the Task tool."""

    model: str
    event_source: str  # query_source on events and spans (the raw subsystem)
    metric_source: str  # query_source on metrics (main | subagent | auxiliary)
    context: str  # llm_request.context
    agent_id: str | None = None
    agent_name: str | None = None


@dataclass(slots=True)
class _Turn:
    """One prompt: one trace."""

    trace_id: bytes
    root_id: bytes
    prompt_id: str
    failed: bool = False
    rejected: bool = False
    # An MCP result fed to the next model call is attributed on that call's cost.
    mcp_pending: bool = False


@dataclass(slots=True)
class _Call:
    """The outcome of one model call."""

    end_ns: int
    ok: bool
    request_id: str
    stream_end_ns: int  # when tool calls may start (the last content block streams in)


@dataclass(slots=True)
class _Tool:
    """One tool call's outcome, for the next model call and the sub-agent summary."""

    end_ns: int
    result_bytes: int
    rejected: bool


# --------------------------------------------------------------------------- a session


@dataclass(frozen=True, slots=True)
class _User:
    """A developer: the anonymous ``user.id`` of their install, their machine and terminal."""

    user_id: str
    os: tuple[str, str, str]  # os.type, os.version, host.arch
    terminal: str

    @staticmethod
    def make(rng: random.Random) -> _User:
        r = _Rand(rng.getrandbits(64))
        machine = r.pick(
            (
                ("linux", "6.18.44-fc-v669", "amd64"),
                ("darwin", "25.1.0", "arm64"),
                ("linux", "6.12.9-arch1-1", "amd64"),
            )
        )
        return _User(r.hex(64), machine, r.pick(("iTerm.app", "vscode", "tmux", "ghostty")))


class _Session:
    """One Claude Code process: its identity, its exporters' buffers and what it has done."""

    def __init__(self, seed: int, start_ns: int, prompts: int, user: _User) -> None:
        r = self.r = _Rand(seed)
        self.start_ns = start_ns
        self.session_id = r.uuid4()
        self.prompts_left = prompts
        self.project, self.language, self.files = r.pick(_PROJECTS)
        self.model: str = r.weighted({"claude-opus-5-5": 0.55, "claude-sonnet-5": 0.45})
        self.effort: str | None = (
            r.weighted({"medium": 0.6, "high": 0.3, "low": 0.1})
            if self.model in _EFFORT_MODELS
            else None
        )
        self.permission_mode = r.weighted({"default": 0.7, "acceptEdits": 0.3})
        self.log_prompts = r.chance(0.8)  # OTEL_LOG_USER_PROMPTS=1 on most demo machines
        os_type, os_version, arch = user.os
        self.resource = Resource(
            attributes=_key_values(
                {
                    "host.arch": arch,
                    "os.type": os_type,
                    "os.version": os_version,
                    "service.name": "claude-code",
                    "service.version": APP_VERSION,
                }
            )
        )
        self.standard: Attrs = {
            "user.id": user.user_id,
            "session.id": self.session_id,
            "anthropic.provider": "firstParty",
            "anthropic.custom_base_url": r.chance(0.1),
            "terminal.type": user.terminal,
        }
        self.span_standard: Attrs = {**self.standard, "gen_ai.provider.name": "anthropic"}
        # What the model has seen: the cached prefix grows with every call.
        self.cached_tokens = 0
        self.new_tokens = r.int_between(9_000, 22_000)  # system prompt and tool schemas
        self.interactions = 0
        self.shipping: int | None = None
        self.event_sequence = 0
        self.order = 0
        self.spans: list[tuple[int, int, Span]] = []
        self.events: list[_Event] = []
        self.increments: list[_Increment] = []
        self.exported_series: set[tuple[str, tuple[tuple[str, AttrValue], ...]]] = set()
        self.last_collection_ns = start_ns

    # ------------------------------------------------------------------ recording

    def _next(self) -> int:
        self.order += 1
        return self.order

    def span(
        self,
        turn: _Turn,
        span_id: bytes,
        parent: bytes | None,
        span_type: str,
        start_ns: int,
        end_ns: int,
        attrs: Attrs,
        *,
        events: list[Span.Event] | None = None,
        error: str | None = None,
    ) -> None:
        """Finish a span; it waits for the next traces export after ``end_ns``."""
        span = Span(
            trace_id=turn.trace_id,
            span_id=span_id,
            parent_span_id=parent or b"",
            name=f"claude_code.{span_type}",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=_ms_floor(start_ns),
            end_time_unix_nano=end_ns,
            attributes=_key_values({**self.span_standard, "span.type": span_type, **attrs}),
            events=events or [],
            status=Status(code=Status.STATUS_CODE_ERROR, message=error) if error else Status(),
            flags=_SPAN_FLAGS,
        )
        self.spans.append((end_ns, self._next(), span))

    def event(
        self,
        time_ns: int,
        name: str,
        attrs: Attrs,
        *,
        turn: _Turn | None = None,
        span_id: bytes | None = None,
    ) -> None:
        """Emit an event; ``span_id`` defaults to the interaction span (the active context)."""
        self.events.append(
            _Event(
                time_ns=_ms_floor(time_ns),
                order=self._next(),
                name=name,
                prompt_id=turn.prompt_id if turn else None,
                attrs=attrs,
                trace_id=turn.trace_id if turn else b"",
                span_id=(span_id or turn.root_id) if turn else b"",
            )
        )

    def add(self, time_ns: int, metric: str, value: float, attrs: Attrs) -> None:
        """``counter.add(value, {...standard, ...attrs})``."""
        merged = {**self.standard, **attrs}
        self.increments.append(
            _Increment(_ms_floor(time_ns), self._next(), metric, tuple(merged.items()), value)
        )

    # ------------------------------------------------------------------ exporting

    def take_spans(self, until_ns: int) -> list[Export]:
        """The BatchSpanProcessor's exports at ``until_ns``: spans in the order they ended."""
        due, self.spans = _split(self.spans, until_ns, key=lambda s: s[0])
        due.sort(key=lambda s: (s[0], s[1]))
        exports = []
        for chunk in _chunks([s[2] for s in due]):
            request = ExportTraceServiceRequest(
                resource_spans=[
                    ResourceSpans(
                        resource=self.resource,
                        scope_spans=[ScopeSpans(scope=TRACING_SCOPE, spans=chunk)],
                    )
                ]
            )
            exports.append(Export("traces", until_ns, self.session_id, request, len(chunk)))
        return exports

    def take_events(self, until_ns: int) -> list[Export]:
        """The log processor's exports: events in emit order, numbered as they are emitted."""
        due, self.events = _split(self.events, until_ns, key=lambda e: e.time_ns)
        due.sort(key=lambda e: (e.time_ns, e.order))
        records = [self._log_record(e) for e in due]
        exports = []
        for chunk in _chunks(records):
            request = ExportLogsServiceRequest(
                resource_logs=[
                    ResourceLogs(
                        resource=self.resource,
                        scope_logs=[ScopeLogs(scope=EVENTS_SCOPE, log_records=chunk)],
                    )
                ]
            )
            exports.append(Export("logs", until_ns, self.session_id, request, len(chunk)))
        return exports

    def _log_record(self, event: _Event) -> LogRecord:
        envelope: Attrs = {
            **self.standard,
            "event.name": event.name,
            "event.timestamp": _iso(event.time_ns),
            "event.sequence": self.event_sequence,
        }
        self.event_sequence += 1
        if event.prompt_id:
            envelope["prompt.id"] = event.prompt_id
        return LogRecord(
            time_unix_nano=event.time_ns,
            observed_time_unix_nano=event.time_ns,
            body=AnyValue(string_value=f"claude_code.{event.name}"),
            attributes=_key_values({**envelope, **event.attrs}),
            flags=_LOG_FLAGS_SAMPLED if event.trace_id else 0,
            trace_id=event.trace_id,
            span_id=event.span_id,
        )

    def take_metrics(self, until_ns: int) -> list[Export]:
        """The periodic metric reader's export: one DELTA point per series touched since the last.

        A series seen before starts at the previous collection; a new one at its first ``add``.
        """
        now = _ms_floor(until_ns)
        due, self.increments = _split(self.increments, now, key=lambda i: i.time_ns)
        due.sort(key=lambda i: (i.time_ns, i.order))
        sums: dict[tuple[str, tuple[tuple[str, AttrValue], ...]], list[Any]] = {}
        for inc in due:
            series = (inc.metric, inc.attrs)
            if series in sums:
                sums[series][1] += inc.value
            else:
                start = self.last_collection_ns if series in self.exported_series else inc.time_ns
                sums[series] = [start, inc.value]
        self.last_collection_ns = now
        if not sums:
            return []
        self.exported_series.update(sums)
        metrics = []
        for name, (unit, description) in METRICS.items():
            points = [
                NumberDataPoint(
                    attributes=_key_values(dict(attrs)),
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    as_double=float(value),
                )
                for (metric, attrs), (start, value) in sums.items()
                if metric == name
            ]
            if points:
                metrics.append(
                    Metric(
                        name=name,
                        description=description,
                        unit=unit,
                        sum=Sum(
                            data_points=points,
                            aggregation_temporality=AGGREGATION_TEMPORALITY_DELTA,
                            is_monotonic=True,
                        ),
                    )
                )
        request = ExportMetricsServiceRequest(
            resource_metrics=[
                ResourceMetrics(
                    resource=self.resource,
                    scope_metrics=[ScopeMetrics(scope=METRICS_SCOPE, metrics=metrics)],
                )
            ]
        )
        return [Export("metrics", until_ns, self.session_id, request, len(sums))]

    # ------------------------------------------------------------------ a session's life

    def begin(self, now: int) -> None:
        """Start-up: managed settings, plugins, MCP servers, and ``session.count``."""
        r = self.r
        t = now + r.ms(20, 80)
        self.event(
            t,
            "managed_settings_resolved",
            {
                "managed_settings.trigger": "startup",
                "managed_settings.sources": [],
                "managed_settings.source_behavior": "first-wins",
                "managed_settings.helper.state": "none",
                "managed_settings.helper.applied": "none",
            },
        )
        t += r.ms(150, 400)
        for plugin, digest in (
            ("cc-plugin-agents-md", "da63145d0acbb62d"),
            ("cc-plugin-privacy", "a2f27f067781660d"),
            ("cc-plugin-plugin-authoring", "559932fe5f722b82"),
        ):
            t += r.ms(1, 3)
            self.event(
                t,
                "plugin_loaded",
                {
                    "plugin.name": plugin,
                    "marketplace.name": "builtin",
                    "plugin.scope": "default-bundle",
                    "enabled_via": "default-enable",
                    "plugin_id_hash": digest,
                    "has_hooks": True,
                    "has_mcp": False,
                    "host_owned_mcp": False,
                    "skill_path_count": 0,
                    "command_path_count": 0,
                    "agent_path_count": 0,
                    "safe_mode": "false",
                },
            )
        self.add(t + r.ms(10, 40), "claude_code.session.count", 1.0, {"start_type": "fresh"})
        t += r.ms(100, 900)
        self.event(
            t,
            "mcp_server_connection",
            {
                "status": "connected",
                "transport_type": "stdio",
                "server_scope": "user",
                "duration_ms": str(r.int_between(150, 1500)),
                "is_plugin": False,
                "server_name": "github",
            },
        )

    def turn(self, now: int) -> int:
        """Play one prompt from ``now``; returns when the interaction span ends."""
        r = self.r
        self.interactions += 1
        turn = _Turn(trace_id=r.trace_id(), root_id=r.span_id(), prompt_id=r.uuid4())
        prompt = r.pick(_PROMPTS)
        # "commit this and open a pull request": after a look around, commit, then open the PR.
        self.shipping = 0 if "pull request" in prompt else None
        shown = prompt if self.log_prompts else "<REDACTED>"
        typing_s = round(r.uniform(1.5, 25.0), 3)
        self.add(now + _MS, "claude_code.active_time.total", typing_s, {"type": "user"})
        t = now + r.ms(5, 60)
        self.event(
            t,
            "user_prompt",
            {
                "prompt_length": str(len(prompt)),
                "prompt": shown,
                "prompt_text": shown,
                "message.uuid": r.uuid4(),
            },
            turn=turn,
        )
        self.new_tokens += len(prompt) // 3 + r.int_between(50, 400)
        if self.interactions == 1:
            self._title_request(turn, t + r.ms(20, 200))
        main = _Agent(self.model, "repl_main_thread", "main", "interaction")
        t = self.agent_loop(turn, main, turn.root_id, t + r.ms(30, 300), max_steps=9)
        end = t + r.ms(2, 15)
        self.span(
            turn,
            turn.root_id,
            None,
            "interaction",
            now,
            end,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.conversation.id": self.session_id,
                "user_prompt": shown,
                "user_prompt_length": len(prompt),
                "interaction.sequence": self.interactions,
                "parent.source": "none",
                "queued_sends": 0,
                "interaction.duration_ms": (end - now) // _MS,
            },
        )
        cli_s = round((end - now) / _S, 3)
        self.add(end + _MS, "claude_code.active_time.total", cli_s, {"type": "cli"})
        return end

    def agent_loop(
        self, turn: _Turn, agent: _Agent, parent: bytes, start_ns: int, max_steps: int
    ) -> int:
        """Call the model, run the tools it asks for, repeat until it answers; returns the end."""
        r = self.r
        t = start_ns
        for step in range(max_steps):
            wants_tools = step < max_steps - 1 and r.chance(0.8 if step < 3 else 0.5)
            call = self.llm_request(turn, agent, parent, t, wants_tools)
            if not call.ok:
                turn.failed = True
                return call.end_ns
            if not wants_tools:
                return call.end_ns
            tools = self._plan_tools(agent, step)
            ends = [call.end_ns]
            tool_start = call.stream_end_ns
            results = 0
            for name in tools:
                outcome = self.tool(turn, agent, parent, name, tool_start, call.request_id)
                ends.append(outcome.end_ns)
                results += outcome.result_bytes
                if outcome.rejected:
                    turn.rejected = True
                if name not in _READ_ONLY:
                    tool_start = outcome.end_ns + r.ms(1, 5)
                else:
                    tool_start += r.ms(1, 4)  # read-only tools run side by side
            self.new_tokens += results // 4 + r.int_between(30, 300)
            t = max(ends) + r.ms(5, 40)
            if turn.rejected:
                # The user said no: Claude Code stops and asks what to do instead.
                return t
        return t

    def _plan_tools(self, agent: _Agent, step: int) -> list[str]:
        r = self.r
        if agent.agent_id is not None:  # sub-agents explore
            return [
                r.weighted({"Read": 5, "Grep": 3, "Glob": 2}) for _ in range(r.int_between(1, 3))
            ]
        if self.shipping is not None and step >= 1 and self.shipping < 2:
            return ["Bash"]
        first: str = r.weighted(_EARLY_TOOLS if step < 2 else _LATE_TOOLS)
        if first in _READ_ONLY and r.chance(0.4):
            return [
                first,
                *(r.weighted({"Read": 3, "Grep": 1}) for _ in range(r.int_between(1, 2))),
            ]
        return [first]

    # ------------------------------------------------------------------ model calls

    def _tokens(self, slow: bool) -> tuple[int, int, int, int]:
        """(input, output, cache read, cache write) for the next call of the conversation."""
        r = self.r
        cache_read = self.cached_tokens
        cache_write = self.new_tokens
        uncached = int(r.log_uniform(3, 2500))
        output = int(r.log_uniform(3000, 14000) if slow else r.log_uniform(15, 1500))
        self.cached_tokens += cache_write
        self.new_tokens = output
        return uncached, output, cache_read, cache_write

    def llm_request(
        self, turn: _Turn, agent: _Agent, parent: bytes, start_ns: int, wants_tools: bool
    ) -> _Call:
        """One ``llm_request`` span with its attempts, events and metric increments."""
        r = self.r
        span_id = r.span_id()
        outcome = r.weighted({"ok": 0.94, "retried": 0.05, "exhausted": 0.01})
        attempt_start, attempts, attempt_events = self._attempts(start_ns, outcome)
        if outcome == "exhausted":
            return self._exhausted(
                turn, agent, parent, span_id, start_ns, attempt_start, attempt_events, attempts
            )
        # A final answer is sometimes long: those are the slow calls of many seconds.
        slow = not wants_tools and r.chance(0.12)
        tokens = self._tokens(slow)
        ttft = r.ms(350, 2500)
        stream = int(tokens[1] / r.uniform(45, 90) * _S)
        end = attempt_start + ttft + stream + r.ms(5, 40)
        request_id = "req_011" + r.hex(24)
        stop_reason = "tool_use" if wants_tools else "end_turn"
        agent_attrs: Attrs = {"agent_id": agent.agent_id} if agent.agent_id else {}
        self.span(
            turn,
            span_id,
            parent,
            "llm_request",
            start_ns,
            end,
            {
                "model": agent.model,
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": agent.model,
                **agent_attrs,
                "llm_request.context": agent.context,
                "speed": "normal",
                "gen_ai.conversation.id": self.session_id,
                "query_source_safe": agent.event_source,
                "duration_ms": (end - start_ns) // _MS,
                "input_tokens": tokens[0],
                "output_tokens": tokens[1],
                "cache_read_tokens": tokens[2],
                "cache_creation_tokens": tokens[3],
                "success": True,
                "attempt": attempts,
                "request_id": request_id,
                "gen_ai.response.id": request_id,
                "ttft_ms": ttft // _MS,
                "first_content_ms": ttft // _MS + r.int_between(0, 4),
                **self._effort(agent.model),
                "stop_reason": stop_reason,
                "gen_ai.response.finish_reasons": [stop_reason],
            },
            events=attempt_events,
        )
        self._usage(turn, agent, end - r.ms(2, 5), tokens, request_id, end - attempt_start, ttft)
        if not wants_tools or r.chance(0.6):
            self.event(
                end - r.ms(0.5, 2),
                "assistant_response",
                {
                    "response_length": int(tokens[1] * r.uniform(2.5, 4.0)),
                    "response": "<REDACTED>",
                    "request_id": request_id,
                    "message.uuid": r.uuid4(),
                    "model": agent.model,
                    "query_source": agent.event_source,
                    **agent_attrs,
                },
                turn=turn,
            )
        # Tool calls stream in before the response is complete and start at once.
        stream_end = max(attempt_start + ttft + _MS, end - r.ms(5, 150))
        return _Call(end, True, request_id, stream_end)

    def _attempts(self, start_ns: int, outcome: str) -> tuple[int, int, list[Span.Event]]:
        """(start of the last attempt, attempts made, their span events).

        A failing attempt errors after a while and backs off (0.5 s, doubling, at most 32 s)
        before the next; Claude Code's default retry budget gives 11 attempts.
        """
        r = self.r
        events = [_attempt_event(start_ns + r.ms(5, 60), 1)]
        if outcome == "ok":
            return start_ns, 1, events
        last = 11 if outcome == "exhausted" else 2
        t = start_ns
        attempts = 1
        while True:
            t += r.ms(300, 4000)  # until the error response
            if attempts == last:
                return t, attempts, events  # exhausted: t is when the last one failed
            t += int(min(0.5 * 2 ** (attempts - 1), 32.0) * r.uniform(0.75, 1.0) * _S)
            attempts += 1
            events.append(_attempt_event(t, attempts))
            if outcome == "retried":
                return t, attempts, events

    def _usage(
        self,
        turn: _Turn,
        agent: _Agent,
        at_ns: int,
        tokens: tuple[int, int, int, int],
        request_id: str,
        duration_ns: int,
        ttft_ns: int,
    ) -> None:
        """The ``api_request`` event and the cost and token counters, with the same numbers."""
        input_tokens, output, cache_read, cache_write = tokens
        cost = price_usd(agent.model, input_tokens, output, cache_read, cache_write)
        attribution: Attrs = {"agent.name": agent.agent_name} if agent.agent_name else {}
        if turn.mcp_pending and agent.agent_id is None:
            # Set only on the call that consumed an MCP result; user servers become "custom".
            attribution |= {"mcp_server.name": "custom", "mcp_tool.name": "custom"}
            turn.mcp_pending = False
        self.event(
            at_ns,
            "api_request",
            {
                "model": agent.model,
                "input_tokens": input_tokens,
                "output_tokens": output,
                "cache_read_tokens": cache_read,
                "cache_creation_tokens": cache_write,
                "cache_creation_5m_tokens": cache_write,
                "cache_creation_1h_tokens": 0,
                "cost_usd": cost,
                "cost_usd_micros": round(cost * 1e6),
                "duration_ms": duration_ns // _MS,
                "ttft_ms": ttft_ns // _MS,
                "request_id": request_id,
                "speed": "normal",
                "query_source": agent.event_source,
                **self._effort(agent.model),
                **attribution,
                **({"agent_id": agent.agent_id} if agent.agent_id else {}),
            },
            turn=turn,
        )
        # Metrics say main | subagent | auxiliary where events name the subsystem.
        common: Attrs = {
            "model": agent.model,
            "query_source": agent.metric_source,
            **self._effort(agent.model),
            **attribution,
        }
        self.add(at_ns, "claude_code.cost.usage", cost, common)
        for kind, count in (
            ("input", input_tokens),
            ("output", output),
            ("cacheRead", cache_read),
            ("cacheCreation", cache_write),
        ):
            # Four adds per response, zeros included.
            self.add(at_ns, "claude_code.token.usage", float(count), {**common, "type": kind})

    def _effort(self, model: str) -> Attrs:
        return {"effort": self.effort} if self.effort and model in _EFFORT_MODELS else {}

    def _exhausted(
        self,
        turn: _Turn,
        agent: _Agent,
        parent: bytes,
        span_id: bytes,
        start_ns: int,
        end_ns: int,
        attempt_events: list[Span.Event],
        attempts: int,
    ) -> _Call:
        """A call whose retries ran out: ERROR span, then ``api_error`` and the summary event."""
        r = self.r
        status, error = _api_error(r)
        request_id = "req_011" + r.hex(24) if status is not None else ""
        status_attrs: Attrs = {"status_code": status} if status is not None else {}
        self.span(
            turn,
            span_id,
            parent,
            "llm_request",
            start_ns,
            end_ns,
            {
                "model": agent.model,
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": agent.model,
                **({"agent_id": agent.agent_id} if agent.agent_id else {}),
                "llm_request.context": agent.context,
                "speed": "normal",
                "gen_ai.conversation.id": self.session_id,
                "query_source_safe": agent.event_source,
                "duration_ms": (end_ns - start_ns) // _MS,
                "success": False,
                "attempt": attempts,
                **status_attrs,
                "error": error,
                "error_class": "APIError" if status is not None else "APIConnectionError",
                **self._effort(agent.model),
            },
            events=attempt_events,
            error=error,
        )
        last_attempt_ms = r.int_between(300, 4000)
        self.event(
            end_ns + _MS,
            "api_error",
            {
                "model": agent.model,
                "error": error,
                **status_attrs,
                "duration_ms": last_attempt_ms,
                "attempt": attempts,
                **({"request_id": request_id} if request_id else {}),
                "speed": "normal",
                "query_source": agent.event_source,
                **self._effort(agent.model),
            },
            turn=turn,
        )
        self.event(
            end_ns + 2 * _MS,
            "api_retries_exhausted",
            {
                "model": agent.model,
                "error": error,
                **status_attrs,
                "total_attempts": attempts,
                "total_retry_duration_ms": (end_ns - start_ns) // _MS,
                "speed": "normal",
                "query_source": agent.event_source,
                **self._effort(agent.model),
            },
            turn=turn,
        )
        return _Call(end_ns + 3 * _MS, False, request_id, end_ns)

    def _title_request(self, turn: _Turn, start_ns: int) -> None:
        """The side query that names a new session: a standalone Haiku call in its own trace."""
        r = self.r
        side = _Turn(trace_id=r.trace_id(), root_id=turn.root_id, prompt_id=turn.prompt_id)
        aux = _Agent("claude-haiku-4-5", "generate_session_title", "auxiliary", "standalone")
        saved = self.cached_tokens, self.new_tokens
        self.cached_tokens, self.new_tokens = 0, r.int_between(300, 900)
        call = self.llm_request(side, aux, b"", start_ns, wants_tools=False)
        self.cached_tokens, self.new_tokens = saved
        del call
        # Its events were emitted in the interaction's context: move them there.
        for event in self.events:
            if event.trace_id == side.trace_id:
                event.trace_id, event.span_id = turn.trace_id, turn.root_id

    # ------------------------------------------------------------------ tools

    def tool(
        self,
        turn: _Turn,
        agent: _Agent,
        parent: bytes,
        name: str,
        start_ns: int,
        request_id: str,
    ) -> _Tool:
        """A ``tool`` span with its permission wait and execution, and the events they raise."""
        r = self.r
        tool_span = r.span_id()
        tool_use_id = "toolu_01" + r.hex(24)
        spec = self._tool_spec(name)
        decision, source = self._decision(name)
        wait = r.ms(1000, 12000) if source.startswith("user_") else r.ms(1, 80)
        blocked_start = start_ns + r.ms(0.5, 3)
        blocked_end = blocked_start + wait
        blocked_id = r.span_id()
        self.span(
            turn,
            blocked_id,
            tool_span,
            "tool.blocked_on_user",
            blocked_start,
            blocked_end,
            {
                "gen_ai.conversation.id": self.session_id,
                "duration_ms": wait // _MS,
                "decision": decision,
                "source": source,
            },
        )
        agent_attrs: Attrs = {"agent_id": agent.agent_id} if agent.agent_id else {}
        decided = blocked_end - r.ms(0.3, 2)
        decision_attrs: Attrs = {
            "decision": decision,
            "source": source,
            "tool_name": name,
            "tool_use_id": tool_use_id,
            "tool_source": "mcp" if name.startswith("mcp__") else "builtin",
        }
        if spec.parameters:
            decision_attrs["tool_parameters"] = _json(spec.parameters)
        decision_attrs |= {"permission_mode": self.permission_mode, "request_id": request_id}
        self.event(
            decided,
            "tool_decision",
            {**decision_attrs, **agent_attrs},
            turn=turn,
            span_id=blocked_id,
        )
        if name in ("Edit", "Write"):
            self.add(
                decided,
                "claude_code.code_edit_tool.decision",
                1.0,
                {
                    "tool_name": name,
                    "decision": decision,
                    "source": source,
                    "language": self.language,
                },
            )
        if decision == "reject":
            end = blocked_end + r.ms(1, 5)
            self._tool_span(turn, tool_span, parent, name, spec, tool_use_id, start_ns, end)
            return _Tool(end, 0, rejected=True)

        exec_start = blocked_end + r.ms(0.5, 3)
        if name == "Task":
            exec_end = self._subagent(turn, tool_span, spec, exec_start)
        else:
            exec_end = exec_start + spec.duration_ns
        exec_id = r.span_id()
        failure = spec.error
        self.span(
            turn,
            exec_id,
            tool_span,
            "tool.execution",
            exec_start,
            exec_end,
            {
                "gen_ai.conversation.id": self.session_id,
                "tool_use_id": tool_use_id,
                "gen_ai.tool.call.id": tool_use_id,
                "duration_ms": (exec_end - exec_start) // _MS,
                "success": failure is None,
                **(
                    {"error": failure[1], "error_class": failure[0], "error.type": "tool_error"}
                    if failure
                    else {}
                ),
            },
            error=failure[1] if failure else None,
        )
        end = exec_end + r.ms(0.5, 3)
        self._tool_span(turn, tool_span, parent, name, spec, tool_use_id, start_ns, end)
        result_attrs: Attrs = {
            "tool_name": name,
            "tool_use_id": tool_use_id,
            "success": "false" if failure else "true",
            "duration_ms": str((exec_end - exec_start) // _MS),
        }
        if failure:
            result_attrs |= {"error_type": failure[0], "error": failure[1]}
        parameters = dict(spec.parameters)
        if failure is None and spec.commit_sha:
            parameters["git_commit_id"] = spec.commit_sha
        if parameters:
            result_attrs["tool_parameters"] = _json(parameters)
        tool_input = _json(spec.tool_input)
        result_attrs |= {
            "tool_input": tool_input,
            "tool_input_size_bytes": str(len(tool_input.encode())),
            "tool_result_size_bytes": str(spec.result_bytes),
        }
        if name.startswith("mcp__"):
            result_attrs["mcp_server_scope"] = "user"
            turn.mcp_pending = True
        if failure is None and spec.commit_sha:
            result_attrs |= {
                "vcs.ref.head.revision": spec.commit_sha,
                "vcs.ref.head.name": "main",
                "vcs.ref.head.type": "branch",
            }
        result_attrs["request_id"] = request_id
        self.event(end + r.ms(1, 4), "tool_result", {**result_attrs, **agent_attrs}, turn=turn)
        if failure is None:
            self._tool_metrics(name, spec, exec_end, agent.model)
        return _Tool(end, spec.result_bytes, rejected=False)

    def _tool_span(
        self,
        turn: _Turn,
        span_id: bytes,
        parent: bytes,
        name: str,
        spec: _ToolSpec,
        tool_use_id: str,
        start_ns: int,
        end_ns: int,
    ) -> None:
        self.span(
            turn,
            span_id,
            parent,
            "tool",
            start_ns,
            end_ns,
            {
                "tool_name": name,
                "tool_name_safe": "mcp_other" if name.startswith("mcp__") else name,
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.conversation.id": self.session_id,
                **spec.span_attrs,
                "tool_use_id": tool_use_id,
                "gen_ai.tool.call.id": tool_use_id,
                "duration_ms": (end_ns - start_ns) // _MS,
            },
        )

    def _tool_metrics(self, name: str, spec: _ToolSpec, at_ns: int, model: str) -> None:
        """Lines, commits and pull requests that a successful tool call produced."""
        if spec.lines_added or spec.lines_removed:
            for kind, lines in (("added", spec.lines_added), ("removed", spec.lines_removed)):
                if lines:
                    self.add(
                        at_ns,
                        "claude_code.lines_of_code.count",
                        float(lines),
                        {"type": kind, "model": model},
                    )
        if spec.commit_sha:
            self.add(at_ns, "claude_code.commit.count", 1.0, {})
        if spec.pull_request:
            self.add(at_ns, "claude_code.pull_request.count", 1.0, {})
        del name

    def _decision(self, name: str) -> tuple[str, str]:
        """(decision, source) of the permission check."""
        r = self.r
        if name in _READ_ONLY or name in ("TodoWrite", "Task"):
            return "accept", "config"
        if name in ("Edit", "Write") and self.permission_mode == "acceptEdits":
            return "accept", "config"
        # Edits are what people look at hardest before saying yes.
        rejects = 0.1 if name in ("Edit", "Write") else 0.05
        source = r.weighted(
            {
                "config": 0.45,
                "user_temporary": 0.3,
                "user_permanent": 0.12,
                "hook": 0.05,
                "user_reject": rejects,
                "classifier": 0.03,
            }
        )
        return ("reject" if source == "user_reject" else "accept"), source

    def _tool_spec(self, name: str) -> _ToolSpec:
        r = self.r
        path = r.pick(self.files)
        if name == "Bash":
            return self._bash_spec()
        if name == "Read":
            missing = r.chance(0.04)
            return _ToolSpec(
                duration_ns=r.ms(3, 60),
                tool_input={"file_path": f"/work/{self.project}/{path}"},
                span_attrs={"file_path": f"/work/{self.project}/{path}"},
                result_bytes=0 if missing else int(r.log_uniform(400, 40_000)),
                error=("Error:ENOENT", f"File does not exist: {path}") if missing else None,
            )
        if name in ("Edit", "Write"):
            failed = name == "Edit" and r.chance(0.06)
            added = r.int_between(1, 40) if name == "Edit" else r.int_between(20, 200)
            return _ToolSpec(
                duration_ns=r.ms(10, 150),
                tool_input=(
                    {
                        "file_path": f"/work/{self.project}/{path}",
                        "old_string": "...",
                        "new_string": "...",
                    }
                    if name == "Edit"
                    else {"file_path": f"/work/{self.project}/{path}", "content": "..."}
                ),
                span_attrs={"file_path": f"/work/{self.project}/{path}"},
                result_bytes=r.int_between(100, 2000),
                error=(
                    ("InputValidationError", "String to replace not found in file.")
                    if failed
                    else None
                ),
                lines_added=0 if failed else added,
                lines_removed=0 if failed or name == "Write" else r.int_between(0, added),
            )
        if name == "Grep":
            return _ToolSpec(
                duration_ns=r.ms(15, 600),
                tool_input={
                    "pattern": r.pick(("retry", "TODO", "def test_", "useSession")),
                    "path": "src",
                },
                result_bytes=int(r.log_uniform(50, 8000)),
            )
        if name == "Glob":
            return _ToolSpec(
                duration_ns=r.ms(4, 120),
                tool_input={"pattern": r.pick(("**/*.py", "src/**/*.tsx", "**/*_test.go"))},
                result_bytes=int(r.log_uniform(50, 3000)),
            )
        if name == "WebFetch":
            failed = r.chance(0.12)
            return _ToolSpec(
                duration_ns=r.ms(700, 9000),
                tool_input={
                    "url": "https://docs.python.org/3/library/asyncio-task.html",
                    "prompt": "summarize the timeout API",
                },
                result_bytes=0 if failed else int(r.log_uniform(2000, 30_000)),
                error=("Error:ETIMEDOUT", "Request timed out after 60000ms") if failed else None,
            )
        if name == "TodoWrite":
            return _ToolSpec(
                duration_ns=r.ms(2, 12),
                tool_input={"todos": "[3 items]"},
                result_bytes=r.int_between(80, 400),
            )
        if name == "Task":
            kind = r.weighted({"Explore": 0.7, "general-purpose": 0.3})
            return _ToolSpec(
                duration_ns=0,
                tool_input={"description": "Find where sessions are loaded", "subagent_type": kind},
                parameters={"subagent_type": kind},
                span_attrs={"subagent_type": kind},
                result_bytes=int(r.log_uniform(500, 6000)),
            )
        # The MCP tool.
        failed = r.chance(0.05)
        return _ToolSpec(
            duration_ns=r.ms(250, 3500),
            tool_input={"query": "is:open label:timeout", "repo": f"acme/{self.project}"},
            parameters={"mcp_server_name": "github", "mcp_tool_name": "search_issues"},
            span_attrs={"anthropic.mcp.server.name": "github"},
            result_bytes=0 if failed else int(r.log_uniform(1000, 20_000)),
            error=("McpError", "MCP error -32001: Request timed out") if failed else None,
        )

    def _bash_spec(self) -> _ToolSpec:
        r = self.r
        command, cls, low, high, failure_rate = r.pick(_BASH)
        commit_sha = None
        pull_request = False
        if self.shipping is not None and self.shipping < 2:
            self.shipping += 1
            ship_commit, ship_pr = self.shipping == 1, self.shipping == 2
        else:
            ship_commit = r.chance(0.05)
            ship_pr = not ship_commit and r.chance(0.01)
        if ship_commit:
            command, cls, low, high, failure_rate = (
                'git commit -m "Fix retry budget"',
                "vcs",
                80,
                900,
                0.05,
            )
        elif ship_pr:
            command, cls, low, high, failure_rate = (
                'gh pr create --fill --title "Fix retry budget"',
                "network",
                1500,
                6000,
                0.05,
            )
        slow = high > 10_000 and r.chance(_SLOW_BASH_RATE)
        duration = r.ms(high / 4, high) if slow else r.ms(low, min(high, low * 4))
        failed = r.chance(failure_rate)
        argv0 = command.split()[0]
        if command.startswith("git commit") and not failed:
            commit_sha = r.hex(40)
        if argv0 == "gh" and not failed:
            pull_request = True
        description = {"vcs": "Check the repository", "test_runner": "Run the tests"}.get(
            cls, "Run " + argv0
        )
        return _ToolSpec(
            duration_ns=duration,
            tool_input={"command": command, "description": description},
            parameters={"bash_command": argv0, "full_command": command, "description": description},
            span_attrs={"full_command": command, "bash_command_class": cls, "bash_argv0": argv0},
            result_bytes=int(r.log_uniform(5, 20_000)),
            error=("ShellError", f"Exit code 1\n{argv0}: 2 failed") if failed else None,
            commit_sha=commit_sha,
            pull_request=pull_request,
        )

    def _subagent(self, turn: _Turn, tool_span: bytes, spec: _ToolSpec, start_ns: int) -> int:
        """The Task tool's sub-agent: its model calls and tools nest under the Task span."""
        r = self.r
        kind = str(spec.parameters["subagent_type"])
        agent = _Agent(
            model="claude-haiku-4-5" if kind == "Explore" else self.model,
            event_source="agent:builtin",
            metric_source="subagent",
            context="tool",
            agent_id="agent_" + r.hex(16),
            agent_name=kind,
        )
        # A sub-agent starts with its own, small context.
        saved = self.cached_tokens, self.new_tokens
        self.cached_tokens, self.new_tokens = 0, r.int_between(4000, 9000)
        end = self.agent_loop(
            turn, agent, tool_span, start_ns + r.ms(5, 30), max_steps=r.int_between(2, 5)
        )
        used = self.cached_tokens + self.new_tokens
        self.cached_tokens, self.new_tokens = saved
        self.event(
            end + _MS,
            "subagent_completed",
            {
                "agent_type": kind,
                "agent.source": "built-in",
                "is_built_in": True,
                "is_async": False,
                "total_tokens": used,
                "total_tool_uses": r.int_between(1, 8),
                "duration_ms": (end - start_ns) // _MS,
                "model": agent.model,
                "final_model": agent.model,
                "model_swapped": False,
            },
            turn=turn,
            span_id=tool_span,
        )
        return end + 2 * _MS


@dataclass(slots=True)
class _ToolSpec:
    """What one tool call does, decided before it is played out."""

    duration_ns: int
    tool_input: dict[str, Any]
    result_bytes: int
    parameters: dict[str, Any] = field(default_factory=dict)
    span_attrs: Attrs = field(default_factory=dict)
    error: tuple[str, str] | None = None  # (error_type, message)
    lines_added: int = 0
    lines_removed: int = 0
    commit_sha: str | None = None
    pull_request: bool = False


def _attempt_event(at_ns: int, attempt: int) -> Span.Event:
    return Span.Event(
        time_unix_nano=at_ns,
        name="gen_ai.request.attempt",
        attributes=_key_values({"attempt": attempt}),
    )


def _api_error(r: _Rand) -> tuple[int | None, str]:
    """(HTTP status or None for a network error, message) of a failing API call."""
    status: int | None = r.pick((529, 529, 500, 429, None))
    message = {
        529: '529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        500: '500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}',
        429: '429 {"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}',
        None: "Connection error.",
    }[status]
    return status, message


def _split(items: list[_T], until_ns: int, key: Callable[[_T], int]) -> tuple[list[_T], list[_T]]:
    due = [i for i in items if key(i) <= until_ns]
    if not due:
        return [], items
    return due, [i for i in items if key(i) > until_ns]


def _chunks(items: list[_T]) -> Iterator[list[_T]]:
    for i in range(0, len(items), MAX_EXPORT_BATCH):
        yield items[i : i + MAX_EXPORT_BATCH]


# --------------------------------------------------------------------------- the simulator


@dataclass(order=True, slots=True)
class _Action:
    time_ns: int
    order: int
    run: Callable[[int], list[Export]] = field(compare=False)


class Simulator:
    """Several Claude Code sessions side by side, as the export requests they send.

    ``seed`` and ``start_ns`` fix everything: the same pair gives the same requests. Time only
    moves when asked: :meth:`advance` / :meth:`advance_to` return the requests due up to then,
    in the order they are sent (the demo paces this with the wall clock), and :meth:`stream`
    yields requests as fast as they can be made (the benchmarks).

    The export intervals default to Claude Code's own (logs and traces every 5 s, metrics every
    60 s); the demo may shorten them, as users do with ``OTEL_METRIC_EXPORT_INTERVAL``.
    """

    def __init__(
        self,
        seed: int = 0,
        sessions: int = 3,
        start_ns: int = DEFAULT_START_NS,
        *,
        traces_interval_s: float = 5.0,
        logs_interval_s: float = 5.0,
        metrics_interval_s: float = 60.0,
        prompts_per_session: tuple[int, int] = (3, 10),
        think_time_s: tuple[float, float] = (4.0, 40.0),
    ) -> None:
        if sessions < 1:
            raise ValueError("sessions must be at least 1")
        self.now_ns = start_ns
        self._rng = random.Random(seed)  # noqa: S311 (reproducible, not secrets)
        self._intervals: dict[Signal, int] = {
            "traces": int(traces_interval_s * _S),
            "logs": int(logs_interval_s * _S),
            "metrics": int(metrics_interval_s * _S),
        }
        self._prompts = prompts_per_session
        self._think = think_time_s
        self._queue: list[_Action] = []
        self._order = 0
        self.sessions_started = 0
        # Ids of the sessions that have exited (all their telemetry has been exported).
        self.ended_sessions: list[str] = []
        # A team a little larger than the number of sessions at a time.
        self._users = [_User.make(self._rng) for _ in range(sessions + 2)]
        for slot in range(sessions):
            # Stagger the first sessions so that the demo shows activity within seconds.
            self._schedule(
                start_ns + int(self._rng.uniform(0.0, 2.0 + slot) * _S), self._start_session
            )

    # ------------------------------------------------------------------ public API

    def advance_to(self, until_ns: int) -> list[Export]:
        """Run the simulation up to ``until_ns``; the requests sent meanwhile, oldest first."""
        exports: list[Export] = []
        while self._queue and self._queue[0].time_ns <= until_ns:
            action = heapq.heappop(self._queue)
            self.now_ns = action.time_ns
            exports.extend(action.run(action.time_ns))
        self.now_ns = max(self.now_ns, until_ns)
        return exports

    def advance(self, seconds: float) -> list[Export]:
        """Run ``seconds`` of simulated time; the requests sent meanwhile, oldest first."""
        return self.advance_to(self.now_ns + int(seconds * _S))

    def stream(self) -> Iterator[Export]:
        """Every request, in sending order, without end (sessions keep being replaced)."""
        while True:
            action = heapq.heappop(self._queue)
            self.now_ns = action.time_ns
            yield from action.run(action.time_ns)

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, at_ns: int, run: Callable[[int], list[Export]]) -> None:
        self._order += 1
        heapq.heappush(self._queue, _Action(at_ns, self._order, run))

    def _start_session(self, now: int) -> list[Export]:
        self.sessions_started += 1
        session = _Session(
            self._rng.getrandbits(64),
            now,
            self._rng.randint(*self._prompts),
            self._rng.choice(self._users),
        )
        session.begin(now)
        for signal in ("traces", "logs", "metrics"):
            self._schedule(now + self._intervals[signal], self._exporter(session, signal))
        first_prompt = now + int(self._rng.uniform(1.0, 6.0) * _S)
        self._schedule(first_prompt, self._prompt(session))
        return []

    def _prompt(self, session: _Session) -> Callable[[int], list[Export]]:
        def run(now: int) -> list[Export]:
            end = session.turn(now)
            session.prompts_left -= 1
            if session.prompts_left > 0:
                think = session.r.uniform(*self._think)
                self._schedule(end + int(think * _S), self._prompt(session))
            else:
                self._schedule(end + int(session.r.uniform(1.0, 8.0) * _S), self._end(session))
            return []

        return run

    def _exporter(self, session: _Session, signal: Signal) -> Callable[[int], list[Export]]:
        take = {
            "traces": session.take_spans,
            "logs": session.take_events,
            "metrics": session.take_metrics,
        }[signal]

        def run(now: int) -> list[Export]:
            if session.prompts_left < 0:  # the process has exited
                return []
            self._schedule(now + self._intervals[signal], run)
            return take(now)

        return run

    def _end(self, session: _Session) -> Callable[[int], list[Export]]:
        def run(now: int) -> list[Export]:
            # Shutdown flushes every exporter; then a new session takes the slot.
            session.prompts_left = -1
            self.ended_sessions.append(session.session_id)
            exports = session.take_spans(now) + session.take_events(now)
            exports += session.take_metrics(now)
            self._schedule(now + int(self._rng.uniform(2.0, 20.0) * _S), self._start_session)
            return exports

        return run


# --------------------------------------------------------------------------- fixed-size requests


def build_request(
    signal: Signal, items: int, *, seed: int = 0, start_ns: int = DEFAULT_START_NS
) -> ExportRequest:
    """One request holding exactly ``items`` spans, log records or metric points.

    The items come from a simulation of many sessions, so they have Claude Code's shape and
    sizes; one resource entry per session, as a collector batching several processes would
    send. Spans are taken in the order they end, so a request may hold children whose parent
    travels in another request, as with Claude Code itself.
    """
    if items < 1:
        raise ValueError("items must be at least 1")
    sim = Simulator(
        seed=seed, sessions=max(4, items // 200), start_ns=start_ns, metrics_interval_s=5.0
    )
    if signal == "traces":
        traces = ExportTraceServiceRequest()
        for export in sim.stream():
            if export.signal == "traces":
                assert isinstance(export.request, ExportTraceServiceRequest)
                for rs in export.request.resource_spans:
                    taken = _take(traces.resource_spans, rs, "scope_spans", "spans", items)
                    items -= taken
                if items == 0:
                    return traces
    if signal == "logs":
        logs = ExportLogsServiceRequest()
        for export in sim.stream():
            if export.signal == "logs":
                assert isinstance(export.request, ExportLogsServiceRequest)
                for rl in export.request.resource_logs:
                    items -= _take(logs.resource_logs, rl, "scope_logs", "log_records", items)
                if items == 0:
                    return logs
    metrics = ExportMetricsServiceRequest()
    for export in sim.stream():
        if export.signal == "metrics":
            assert isinstance(export.request, ExportMetricsServiceRequest)
            for rm in export.request.resource_metrics:
                items -= _take_points(metrics, rm, items)
            if items == 0:
                return metrics
    raise AssertionError("unreachable: the simulation never ends")


def _take(out: Any, resource_entry: Any, scopes_field: str, items_field: str, limit: int) -> int:
    """Append ``resource_entry`` to ``out``, cut to at most ``limit`` items; the count taken."""
    if limit <= 0:
        return 0
    entry = out.add()
    entry.CopyFrom(resource_entry)
    taken = 0
    for scope in getattr(entry, scopes_field):
        records = getattr(scope, items_field)
        keep = min(len(records), limit - taken)
        del records[keep:]
        taken += keep
    return taken


def _take_points(out: ExportMetricsServiceRequest, rm: ResourceMetrics, limit: int) -> int:
    if limit <= 0:
        return 0
    entry = out.resource_metrics.add()
    entry.CopyFrom(rm)
    taken = 0
    for scope in entry.scope_metrics:
        for metric in scope.metrics:
            points = metric.sum.data_points
            keep = min(len(points), limit - taken)
            del points[keep:]
            taken += keep
        kept = [m for m in scope.metrics if m.sum.data_points]
        del scope.metrics[:]
        scope.metrics.extend(kept)
    return taken


def traces_request(spans: int = 500, *, seed: int = 0) -> ExportTraceServiceRequest:
    """A traces request of exactly ``spans`` Claude Code spans, for throughput benchmarks."""
    request = build_request("traces", spans, seed=seed)
    assert isinstance(request, ExportTraceServiceRequest)
    return request


__all__ = [
    "DEFAULT_START_NS",
    "MAX_EXPORT_BATCH",
    "MCP_TOOL",
    "METRICS",
    "PRICES",
    "TOOLS",
    "Export",
    "ExportRequest",
    "Price",
    "Signal",
    "Simulator",
    "build_request",
    "price_usd",
    "traces_request",
]
