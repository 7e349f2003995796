"""Load generator: Claude-Code-shaped OTLP over gRPC, HTTP/protobuf or HTTP/JSON.

Every request body is built before the clock starts, so the senders do little more than write
bytes and wait for the answer (the benchmark machine has two cores, shared with the server).
Bodies are all distinct: otelwatch drops repeated spans, events and points as exporter retries,
so sending one body over and over would measure the duplicate filter, and the stored row counts
would not match what was acknowledged. A few templates come from the simulator; each copy gets
its own trace, span and session ids by replacing a marker in the serialized bytes.

Two modes: at maximum rate (``--requests N``, with ``--senders`` concurrent senders), or paced
(``--rate ITEMS_PER_S --duration S``: request *i* is due at ``i * batch / rate`` seconds).

    python bench/loadgen.py --target 127.0.0.1:4317 --transport grpc --signal traces \\
        --batch 500 --senders 4 --requests 400
    python bench/loadgen.py --target 127.0.0.1:4318 --transport http-json --rate 20000 \\
        --duration 20 --json
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import random
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otelwatch.ingest.otlp_json_encode import encode as encode_json
from otelwatch.simulator import Simulator, build_request

TRANSPORTS = ("grpc", "http-protobuf", "http-json")
SIGNALS = ("traces", "logs", "metrics", "mixed", "claude")

GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
RESPONSES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}
REJECTED_FIELD = {
    "traces": ("rejected_spans", "rejectedSpans"),
    "metrics": ("rejected_data_points", "rejectedDataPoints"),
    "logs": ("rejected_log_records", "rejectedLogRecords"),
}
MAX_MESSAGE = 64 * 1024 * 1024


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class Body:
    """One request ready to send."""

    signal: str
    items: int
    data: bytes


class Stamper:
    """Makes any number of distinct copies of one request, cheaply, at the byte level.

    Every trace id ends in the 4-byte ``marker``, every span id too (first 4 bytes kept), and
    every session id string ends in the marker's 8 hex digits. A copy replaces the marker with
    a salt, in protobuf (binary ids, hex session ids) or in OTLP/JSON (all hex).
    """

    def __init__(self, request: Message, signal: str, items: int, json_body: bool, seed: int):
        rng = random.Random(seed)
        # High bytes never occur in the ASCII text of the body, so the binary marker is only found
        # where it was put; the counts are checked below anyway.
        self.marker = bytes(rng.randrange(0x80, 0x100) for _ in range(4))
        self.signal = signal
        self.items = items
        marked = type(request)()
        marked.CopyFrom(request)
        ids = _mark_ids(marked, self.marker)
        sessions = _session_ids(marked)
        body = encode_json(marked) if json_body else marked.SerializeToString()
        hex_marker = self.marker.hex().encode()
        session_strings = sum(body.count(sid.encode()) for sid in sessions)
        for sid in sessions:
            body = body.replace(sid.encode(), sid[:-8].encode() + hex_marker)
        # The markers must be exactly where they were put, or copies would change other bytes.
        expected_hex = session_strings + (ids if json_body else 0)
        expected_binary = 0 if json_body else ids
        if body.count(hex_marker) != expected_hex or (
            not json_body and body.count(self.marker) != expected_binary
        ):
            raise RuntimeError("marker collision in a template; try another --seed")
        self._body = body
        self._hex = hex_marker
        self._json = json_body

    def copy(self, salt: int) -> Body:
        """The template with ``salt`` (a 32-bit number) in place of the marker."""
        raw = struct.pack(">I", salt)
        if raw == self.marker:
            raise ValueError("the salt equals the marker")
        data = self._body.replace(self._hex, raw.hex().encode())
        if not self._json:
            data = data.replace(self.marker, raw)
        return Body(self.signal, self.items, data)


def _mark_ids(request: Message, marker: bytes) -> int:
    """End every trace and span id with ``marker``; returns how many ids were marked."""
    count = 0
    seen: set[bytes] = set()

    def mark(raw: bytes) -> bytes:
        nonlocal count
        if not raw:
            return raw
        new = raw[: len(raw) - 4] + marker
        count += 1
        return new

    if isinstance(request, ExportTraceServiceRequest):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    key = span.span_id
                    span.trace_id = mark(span.trace_id)
                    span.span_id = mark(span.span_id)
                    span.parent_span_id = mark(span.parent_span_id)
                    if span.span_id in seen:
                        raise RuntimeError(f"span ids collide once marked: {key.hex()}")
                    seen.add(span.span_id)
                    for link in span.links:
                        link.trace_id = mark(link.trace_id)
                        link.span_id = mark(link.span_id)
    elif isinstance(request, ExportLogsServiceRequest):
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    record.trace_id = mark(record.trace_id)
                    record.span_id = mark(record.span_id)
    return count


def _session_ids(request: Message) -> set[str]:
    """Every ``session.id`` attribute value in the request."""
    found: set[str] = set()

    def scan(attributes: Any) -> None:
        for kv in attributes:
            if kv.key == "session.id":
                found.add(kv.value.string_value)

    if isinstance(request, ExportTraceServiceRequest):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    scan(span.attributes)
    elif isinstance(request, ExportLogsServiceRequest):
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    scan(record.attributes)
    elif isinstance(request, ExportMetricsServiceRequest):
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.sum.data_points:
                        scan(point.attributes)
    return {s for s in found if len(s) >= 8}


def _times(message: Message, offset: int = 0) -> tuple[float, int]:
    """The earliest and latest nonzero ``*_time_unix_nano`` anywhere in ``message``; with
    ``offset``, each is moved by that much first."""
    earliest, latest = math.inf, 0
    for descriptor, value in message.ListFields():
        if descriptor.name.endswith("time_unix_nano"):
            if value:
                moved = value + offset
                setattr(message, descriptor.name, moved)
                earliest, latest = min(earliest, moved), max(latest, moved)
            continue
        if descriptor.message_type is None:
            continue
        for item in value if descriptor.is_repeated else [value]:
            first, last = _times(item, offset)
            earliest, latest = min(earliest, first), max(latest, last)
    return earliest, latest


def build_bodies(
    signal: str,
    batch: int,
    count: int,
    json_body: bool,
    seed: int,
    templates: int = 8,
    after_ns: int | None = None,
    rate: float | None = None,
) -> list[Body]:
    """``count`` distinct request bodies of ``batch`` items each.

    The simulator's templates start on a fixed day. With ``after_ns`` they are moved so that
    their items come after that time, as a live sender's come after what a store holds, and
    with ``rate`` (items/s) each round of templates is moved on by the time it takes to send:
    the dashboard's lists then show the items sent last first, as they would.
    """
    signals = ["traces", "logs", "metrics"] if signal == "mixed" else [signal]
    requests = [
        (s, t, build_request(s, batch, seed=seed * 1000 + t))  # type: ignore[arg-type]
        for t in range(templates)
        for s in signals
    ]
    step_ns = 0
    if after_ns is not None:
        for _, _, request in requests:
            _times(request, after_ns + 1 - int(_times(request)[0]))
        step_ns = round(len(requests) * batch / rate * 1e9) if rate else 0
    # Salts count up from a random start; they never repeat within a run.
    first = random.Random(seed).randrange(1 << 30)
    bodies: list[Body] = []
    stampers: list[Stamper] = []
    for i in range(count):
        if i % len(requests) == 0 and (not stampers or step_ns):
            if stampers:
                for _, _, request in requests:
                    _times(request, step_ns)
            stampers = [Stamper(r, s, batch, json_body, seed + t) for s, t, r in requests]
        bodies.append(stampers[i % len(stampers)].copy(first + i))
    return bodies


def _claude_stream(
    count: int, json_body: bool, seed: int, items: float | None = None
) -> list[Body]:
    """The simulator's own export stream: many small requests, as Claude Code sends them.

    ``count`` requests, or as many as it takes to hold ``items`` items when that is given.
    """
    sim = Simulator(
        seed=seed, sessions=64, traces_interval_s=1.0, logs_interval_s=1.0, metrics_interval_s=5.0
    )
    bodies: list[Body] = []
    total = 0
    for export in sim.stream():
        if (len(bodies) >= count) if items is None else (total >= items):
            break
        data = encode_json(export.request) if json_body else export.body()
        bodies.append(Body(export.signal, export.items, data))
        total += export.items
    return bodies


# --------------------------------------------------------------------------- senders


@dataclass(slots=True)
class Outcome:
    """One request's result."""

    signal: str
    started: float
    latency_s: float
    status: str  # "OK", a gRPC status name, "HTTP 429", or an exception class
    items: int
    rejected: int = 0


Send = Callable[[Body], tuple[str, int]]


def grpc_sender(target: str, timeout: float) -> tuple[Send, Callable[[], None]]:
    """A sender on its own channel; bytes in and out, no (de)serialization in Python."""
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.max_receive_message_length", MAX_MESSAGE),
        ],
    )
    methods = {
        s: channel.unary_unary(m, request_serializer=None, response_deserializer=None)
        for s, m in GRPC_METHODS.items()
    }

    def send(body: Body) -> tuple[str, int]:
        try:
            reply = methods[body.signal](body.data, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            return (code.name if code else type(exc).__name__), 0
        return "OK", _rejected_proto(body.signal, reply)

    return send, channel.close


def http_sender(target: str, json_body: bool, timeout: float) -> tuple[Send, Callable[[], None]]:
    """A sender on its own keep-alive HTTP/1.1 connection."""
    host, port = target.rsplit(":", 1)
    content_type = "application/json" if json_body else "application/x-protobuf"
    state: dict[str, http.client.HTTPConnection] = {}

    def connection() -> http.client.HTTPConnection:
        if "conn" not in state:
            state["conn"] = http.client.HTTPConnection(host, int(port), timeout=timeout)
        return state["conn"]

    def send(body: Body) -> tuple[str, int]:
        conn = connection()
        try:
            conn.request(
                "POST",
                f"/v1/{body.signal}",
                body=body.data,
                headers={"Content-Type": content_type},
            )
            response = conn.getresponse()
            reply = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            state.pop("conn", None)
            return type(exc).__name__, 0
        if response.status != 200:
            return f"HTTP {response.status}", 0
        if json_body:
            return "OK", _rejected_json(body.signal, reply)
        return "OK", _rejected_proto(body.signal, reply)

    def close() -> None:
        if "conn" in state:
            state["conn"].close()

    return send, close


def _rejected_proto(signal: str, reply: bytes) -> int:
    if not reply:
        return 0
    response = RESPONSES[signal]()
    response.ParseFromString(reply)
    return int(getattr(response.partial_success, REJECTED_FIELD[signal][0]))  # type: ignore[attr-defined]


def _rejected_json(signal: str, reply: bytes) -> int:
    document = json.loads(reply or b"{}")
    return int(document.get("partialSuccess", {}).get(REJECTED_FIELD[signal][1], 0))


# --------------------------------------------------------------------------- a run


@dataclass(slots=True)
class Report:
    """What a run measured (the JSON output)."""

    transport: str
    signal: str
    batch: int
    senders: int
    mode: str
    target_rate: float | None
    requests: int
    requests_ok: int
    items_sent: int
    items_acknowledged: int
    items_rejected: int
    seconds: float
    items_per_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    acknowledged_by_signal: dict[str, int]
    max_lag_ms: float | None = None
    # Acknowledged during the untimed warm-up, per signal: the store holds these too.
    warmup: dict[str, int] = field(default_factory=dict)
    # CPU time this process used during the timed run (it shares the machine with the server).
    client_cpu_s: float = 0.0


def run(
    bodies: list[Body],
    make_sender: Callable[[], tuple[Send, Callable[[], None]]],
    senders: int,
    rate: float | None = None,
) -> tuple[list[Outcome], float, float | None]:
    """Send ``bodies`` with ``senders`` threads; paced at ``rate`` items/s when given.

    Returns the outcomes, the wall time from the first send to the last answer, and for paced
    runs the worst lateness of a send against its schedule.
    """
    connections = [make_sender() for _ in range(senders)]
    next_index = itertools.count()
    lock = threading.Lock()
    outcomes: list[Outcome] = []
    lags: list[float] = []
    due: list[float] = []
    if rate:
        at = 0.0
        for body in bodies:
            due.append(at)
            at += body.items / rate
    start_gate = threading.Barrier(senders + 1)
    t0 = 0.0

    def worker(send: Send) -> None:
        mine: list[Outcome] = []
        my_lag = 0.0
        start_gate.wait()
        while True:
            i = next(next_index)  # atomic under the GIL
            if i >= len(bodies):
                break
            body = bodies[i]
            if rate:
                wait = t0 + due[i] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                else:
                    my_lag = max(my_lag, -wait)
            started = time.perf_counter()
            status, rejected = send(body)
            latency = time.perf_counter() - started
            mine.append(Outcome(body.signal, started, latency, status, body.items, rejected))
        with lock:
            outcomes.extend(mine)
            lags.append(my_lag)

    threads = [
        threading.Thread(target=worker, args=(send,), name=f"sender-{n}", daemon=True)
        for n, (send, _) in enumerate(connections)
    ]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = max((o.started + o.latency_s for o in outcomes), default=t0) - t0
    for _, close in connections:
        close()
    return outcomes, elapsed, (max(lags) if rate else None)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(
    outcomes: list[Outcome],
    elapsed: float,
    lag: float | None,
    *,
    transport: str,
    signal: str,
    batch: int,
    senders: int,
    rate: float | None,
) -> Report:
    """Aggregate the outcomes into a report."""
    ok = [o for o in outcomes if o.status == "OK"]
    latencies = sorted(o.latency_s * 1000 for o in ok)
    acknowledged = sum(o.items - o.rejected for o in ok)
    by_signal: Counter[str] = Counter()
    for o in ok:
        by_signal[o.signal] += o.items - o.rejected
    errors = Counter(o.status for o in outcomes if o.status != "OK")
    return Report(
        transport=transport,
        signal=signal,
        batch=batch,
        senders=senders,
        mode="paced" if rate else "max",
        target_rate=rate,
        requests=len(outcomes),
        requests_ok=len(ok),
        items_sent=sum(o.items for o in outcomes),
        items_acknowledged=acknowledged,
        items_rejected=sum(o.rejected for o in ok),
        seconds=round(elapsed, 3),
        items_per_s=round(acknowledged / elapsed, 1) if elapsed else 0.0,
        requests_per_s=round(len(ok) / elapsed, 1) if elapsed else 0.0,
        latency_ms={
            "p50": round(percentile(latencies, 50), 2),
            "p99": round(percentile(latencies, 99), 2),
            "max": round(latencies[-1], 2) if latencies else math.nan,
        },
        errors=dict(errors),
        acknowledged_by_signal=dict(by_signal),
        max_lag_ms=round(lag * 1000, 1) if lag is not None else None,
    )


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="loadgen",
        description="Send Claude-Code-shaped OTLP to a receiver and measure what it acknowledges.",
    )
    parser.add_argument(
        "--target", default=None, help="HOST:PORT (default 127.0.0.1:4317 for gRPC, :4318 HTTP)"
    )
    parser.add_argument("--transport", choices=TRANSPORTS, default="grpc")
    parser.add_argument(
        "--signal",
        choices=SIGNALS,
        default="traces",
        help="mixed: traces, logs and metrics in turn; claude: the simulator's natural stream "
        "of small requests (--batch is ignored)",
    )
    parser.add_argument("--batch", type=int, default=500, help="items per request (default 500)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders (threads)")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests to send at maximum rate (default 200)"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="pace at this many items/s instead of max rate"
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds to run when paced (default 20)"
    )
    parser.add_argument("--warmup", type=int, default=4, help="requests sent before timing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--after-ns",
        type=int,
        default=None,
        help="time the items after this Unix time in ns, not on the simulator's fixed day, so "
        "that they are newer than what a store holds (--signal claude ignores it)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.target is None:
        args.target = "127.0.0.1:4317" if args.transport == "grpc" else "127.0.0.1:4318"
    if args.batch < 1 or args.senders < 1 or args.requests < 1:
        parser.error("--batch, --senders and --requests must be positive")
    return args


def make_sender_factory(
    transport: str, target: str, timeout: float
) -> Callable[[], tuple[Send, Callable[[], None]]]:
    """A function that opens one sender (connection) for ``transport``."""
    if transport == "grpc":
        return lambda: grpc_sender(target, timeout)
    return lambda: http_sender(target, transport == "http-json", timeout)


def execute(
    args: argparse.Namespace,
    log: Callable[[str], None] = lambda s: None,
    keep: list[Outcome] | None = None,
) -> Report:
    """Build the bodies, warm up, run, and report (used by bench/ingest.py too).

    ``keep``, if given, receives every timed request's outcome (``started`` is on the
    ``time.perf_counter`` clock).
    """
    batch = args.batch
    json_body = args.transport == "http-json"
    built = time.perf_counter()
    if args.signal == "claude":
        # Natural requests vary in size: build enough of them to cover the run.
        wanted = args.rate * args.duration if args.rate else None
        bodies = _claude_stream(args.requests + args.warmup, json_body, args.seed, wanted)
    else:
        count = max(1, round(args.rate * args.duration / batch)) if args.rate else args.requests
        log(f"building {count + args.warmup} {args.transport} bodies …")
        bodies = build_bodies(
            args.signal,
            batch,
            count + args.warmup,
            json_body,
            args.seed,
            after_ns=args.after_ns,
            rate=args.rate,
        )
    warm, bodies = bodies[: args.warmup], bodies[args.warmup :]
    log(
        f"built in {time.perf_counter() - built:.1f} s "
        f"({sum(len(b.data) for b in bodies) / 1e6:.0f} MB); sending …"
    )
    factory = make_sender_factory(args.transport, args.target, args.timeout)
    warm_outcomes = run(warm, factory, 1)[0] if warm else []
    log(f"warmed up with {len(warm)} requests; timed run starts")
    cpu_before = time.process_time()
    outcomes, elapsed, lag = run(bodies, factory, args.senders, args.rate)
    client_cpu = time.process_time() - cpu_before
    if keep is not None:
        keep.extend(outcomes)
    report = summarize(
        outcomes,
        elapsed,
        lag,
        transport=args.transport,
        signal=args.signal,
        batch=0 if args.signal == "claude" else batch,
        senders=args.senders,
        rate=args.rate,
    )
    report.warmup = warmup_report(warm_outcomes)
    report.client_cpu_s = round(client_cpu, 2)
    return report


def warmup_report(outcomes: list[Outcome]) -> dict[str, int]:
    """Items the warm-up requests got acknowledged, per signal (they are stored too)."""
    acked: Counter[str] = Counter()
    for o in outcomes:
        if o.status == "OK":
            acked[o.signal] += o.items - o.rejected
    return dict(acked)


def print_report(report: Report) -> None:
    """A human-readable report."""
    lat = report.latency_ms
    pace = f" at {report.target_rate:,.0f} items/s" if report.target_rate else " at max rate"
    print(
        f"{report.transport} {report.signal} batch={report.batch or 'natural'} "
        f"senders={report.senders}{pace}"
    )
    print(
        f"  {report.items_acknowledged:,} items acknowledged in {report.seconds:.2f} s: "
        f"{report.items_per_s:,.0f} items/s, {report.requests_per_s:,.1f} requests/s"
    )
    print(f"  latency p50 {lat['p50']:.1f} ms  p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms")
    if report.max_lag_ms is not None:
        print(f"  worst lateness against the schedule: {report.max_lag_ms:.1f} ms")
    errors = ", ".join(f"{k} x{v}" for k, v in report.errors.items()) or "none"
    print(f"  errors: {errors}")


def main(argv: list[str] | None = None) -> int:
    """Run the load generator from the command line."""
    args = parse_args(argv)
    report = execute(args, log=lambda s: print(s, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print_report(report)
    return 0 if not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
