"""Soak: ``otelwatch serve`` under a realistic load for a long time, with its memory sampled.

Many simulated Claude Code sessions (``otelwatch.simulator``) run in real time, each exporting
as Claude Code does with ``otelwatch env``'s settings (traces and events every second, metrics
every five), over gRPC and HTTP/protobuf alternately, from a pool of sender threads. Every few
seconds the server's resident memory (``VmRSS`` in ``/proc/PID/status``) is sampled. At the end
the server is stopped with SIGTERM and the database is checked: every acknowledged item stored.

Memory is "flat" when the RSS after the warm-up grows by less than ``--max-growth-mib`` over the
run (a least-squares slope is reported too). Linux only (``/proc``).

    python bench/soak.py --duration 600 --sessions 128 --json soak.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import start_serve  # a sibling module, not a package

from otelwatch.simulator import Export, Simulator

GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
TABLES = {"traces": "spans", "logs": "log_events", "metrics": "metric_points"}
RETRYABLE = {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "HTTP 429", "HTTP 503"}


@dataclass
class Sample:
    """One memory sample."""

    t_s: float
    rss_mib: float
    acknowledged_items: int


@dataclass
class Report:
    """What a soak measured (the JSON output)."""

    duration_s: float
    sessions: int
    speed: float
    senders: int
    requests_sent: int
    requests_ok: int
    items_acknowledged: int
    items_per_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    statuses: dict[str, int]
    stored: dict[str, int]
    acknowledged: dict[str, int]
    all_acknowledged_stored: bool
    rss_mib_after_warmup: float
    rss_mib_end: float
    rss_mib_max: float
    rss_growth_mib: float
    rss_slope_mib_per_min: float
    db_mib: float
    samples: list[Sample] = field(default_factory=list)


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match[1]) / 1024 if match else 0.0


class Senders:
    """A pool of threads, each with its own gRPC channel and HTTP connection.

    A request answered with a retryable status is sent again after a second, up to five times,
    as an OpenTelemetry exporter would.
    """

    def __init__(self, grpc_addr: str, http_addr: str, threads: int) -> None:
        self.work: queue.Queue[tuple[int, Export] | None] = queue.Queue()
        self.lock = threading.Lock()
        self.acknowledged: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.sent = 0
        self.threads = [
            threading.Thread(target=self._run, args=(grpc_addr, http_addr), daemon=True)
            for _ in range(threads)
        ]
        for t in self.threads:
            t.start()

    def _run(self, grpc_addr: str, http_addr: str) -> None:
        channel = grpc.insecure_channel(grpc_addr)
        methods = {s: channel.unary_unary(m) for s, m in GRPC_METHODS.items()}
        host, port = http_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while (job := self.work.get()) is not None:
            index, export = job
            body = export.body()
            for _attempt in range(6):
                started = time.perf_counter()
                if index % 2:
                    try:
                        methods[export.signal](body, timeout=30)
                        status = "OK"
                    except grpc.RpcError as exc:
                        status = exc.code().name  # type: ignore[attr-defined]
                else:
                    try:
                        conn.request(
                            "POST",
                            f"/v1/{export.signal}",
                            body=body,
                            headers={"Content-Type": "application/x-protobuf"},
                        )
                        response = conn.getresponse()
                        response.read()
                        status = "OK" if response.status == 200 else f"HTTP {response.status}"
                    except (OSError, http.client.HTTPException) as exc:
                        conn.close()
                        conn = http.client.HTTPConnection(host, int(port), timeout=30)
                        status = type(exc).__name__
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.sent += 1
                    self.statuses[status] += 1
                    self.latencies.append(elapsed)
                    if status == "OK":
                        self.acknowledged[export.signal] += export.items
                if status not in RETRYABLE:
                    break
                time.sleep(1.0)
        channel.close()
        conn.close()

    def close(self) -> None:
        for _ in self.threads:
            self.work.put(None)
        for t in self.threads:
            t.join(60)


def soak(args: argparse.Namespace) -> Report:
    folder = Path(tempfile.mkdtemp(prefix="otelwatch-soak-"))
    db = Path(args.db) if args.db else folder / "soak.duckdb"
    proc, grpc_addr, http_addr = start_serve(db, args.serve_args, stderr=None)
    senders = Senders(grpc_addr, http_addr, args.senders)
    sim = Simulator(
        seed=args.seed,
        sessions=args.sessions,
        start_ns=time.time_ns(),
        traces_interval_s=1.0,
        logs_interval_s=1.0,
        metrics_interval_s=5.0,
    )
    samples: list[Sample] = []
    t0 = time.monotonic()
    next_sample = 0.0
    index = 0
    tick = 0
    while (elapsed := time.monotonic() - t0) < args.duration:
        for export in sim.advance(args.speed):
            senders.work.put((index, export))
            index += 1
        if elapsed >= next_sample:
            with senders.lock:
                acknowledged = sum(senders.acknowledged.values())
            samples.append(Sample(round(elapsed, 1), round(rss_mib(proc.pid), 1), acknowledged))
            if args.verbose:
                print(
                    f"{elapsed:6.0f} s  rss {samples[-1].rss_mib:7.1f} MiB  "
                    f"acknowledged {acknowledged}  queued {senders.work.qsize()}",
                    flush=True,
                )
            next_sample += args.sample_every
        tick += 1
        time.sleep(max(0.0, t0 + tick - time.monotonic()))
    senders.close()
    seconds = time.monotonic() - t0
    samples.append(
        Sample(round(seconds, 1), round(rss_mib(proc.pid), 1), sum(senders.acknowledged.values()))
    )
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)

    with duckdb.connect(str(db), read_only=True) as conn:
        stored = {
            signal_: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for signal_, table in TABLES.items()
        }
    after = [s for s in samples if s.t_s >= args.warmup] or samples
    xs = [s.t_s / 60 for s in after]
    ys = [s.rss_mib for s in after]
    slope = statistics.linear_regression(xs, ys).slope if len(after) > 1 else 0.0
    latencies = sorted(senders.latencies)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    acknowledged_total = sum(senders.acknowledged.values())
    return Report(
        duration_s=round(seconds, 1),
        sessions=args.sessions,
        speed=args.speed,
        senders=args.senders,
        requests_sent=senders.sent,
        requests_ok=senders.statuses["OK"],
        items_acknowledged=acknowledged_total,
        items_per_s=round(acknowledged_total / seconds, 1),
        requests_per_s=round(senders.statuses["OK"] / seconds, 1),
        latency_ms={"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)} if latencies else {},
        statuses=dict(senders.statuses),
        stored=stored,
        acknowledged=dict(senders.acknowledged),
        all_acknowledged_stored=all(stored[s] >= senders.acknowledged[s] for s in TABLES),
        rss_mib_after_warmup=after[0].rss_mib,
        rss_mib_end=samples[-1].rss_mib,
        rss_mib_max=max(s.rss_mib for s in samples),
        rss_growth_mib=round(after[-1].rss_mib - after[0].rss_mib, 1),
        rss_slope_mib_per_min=round(slope, 2),
        db_mib=round(db.stat().st_size / 2**20, 1),
        samples=samples,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--sessions", type=int, default=128, help="concurrent sessions")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument("--senders", type=int, default=16, help="sender threads")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    parser.add_argument("--max-growth-mib", type=float, default=50.0)
    parser.add_argument("--db", help="database file (default: a new temporary one)")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each sample")
    parser.add_argument(
        "serve_args", nargs="*", help="extra options for otelwatch serve (after --)"
    )
    args = parser.parse_args()
    report = soak(args)
    text = json.dumps(asdict(report), indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    summary = {k: v for k, v in asdict(report).items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    flat = report.rss_growth_mib < args.max_growth_mib
    print(
        f"memory {'flat' if flat else 'GREW'}: {report.rss_mib_after_warmup} -> "
        f"{report.rss_mib_end} MiB after warm-up (max {report.rss_mib_max}); "
        f"every acknowledged item stored: {report.all_acknowledged_stored}"
    )
    return 0 if flat and report.all_acknowledged_stored else 1


if __name__ == "__main__":
    sys.exit(main())
