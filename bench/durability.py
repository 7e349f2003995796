"""Durability: ``kill -9`` under sustained load, many times; every acknowledged item must survive.

Each round starts ``otelwatch serve`` on the same database, sends distinct requests from several
threads over gRPC and HTTP (protobuf and JSON) for a random few seconds, kills the server with
SIGKILL in the middle of the traffic, and then checks the database: every acknowledged request is
there, whole (a request is committed entirely or not at all). Requests that were in flight when
the server died may or may not be there; either is correct, since they were never acknowledged.
The next round restarts on the same file, so recovery from the write-ahead log is measured too.

    python bench/durability.py --rounds 20 --json durability.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import start_serve  # a sibling module, not a package

from otelwatch.ingest.otlp_json_encode import encode as encode_json

SPANS = 25
GRPC_TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass
class Round:
    """One kill -9."""

    round: int
    load_s: float
    acknowledged: int
    stored: int
    lost: int
    partial: int
    in_flight_stored: int
    restart_s: float


def request(batch: int) -> ExportTraceServiceRequest:
    """``SPANS`` spans in trace ``batch``: stored trace ids tell which requests made it."""
    out = ExportTraceServiceRequest()
    resource = out.resource_spans.add()
    kv = resource.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "durability"
    scope = resource.scope_spans.add()
    for i in range(SPANS):
        span = scope.spans.add()
        span.trace_id = batch.to_bytes(16, "big")
        span.span_id = (batch * 1000 + i + 1).to_bytes(8, "big")
        span.name = f"work {i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        span.end_time_unix_nano = 1_700_000_000_000_500_000 + i
        attribute = span.attributes.add()
        attribute.key, attribute.value.string_value = "session.id", f"s-{batch % 13}"
    return out


def start(db: Path) -> tuple[subprocess.Popen[str], str, str, float]:
    started = time.monotonic()
    proc, grpc_addr, http_addr = start_serve(db, stderr=subprocess.DEVNULL)
    return proc, grpc_addr, http_addr, time.monotonic() - started


def sender(kind: str, address: str, first: int, acked: list[int], stop: threading.Event) -> None:
    batch = first
    channel = grpc.insecure_channel(address) if kind == "grpc" else None
    method = channel.unary_unary(GRPC_TRACES) if channel else None
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10) if kind != "grpc" else None
    while not stop.is_set():
        message = request(batch)
        try:
            if method is not None:
                method(message.SerializeToString(), timeout=10)
            else:
                assert conn is not None
                json_body = kind == "http-json"
                conn.request(
                    "POST",
                    "/v1/traces",
                    body=encode_json(message) if json_body else message.SerializeToString(),
                    headers={
                        "Content-Type": "application/json"
                        if json_body
                        else "application/x-protobuf"
                    },
                )
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    batch += 1
                    continue
            acked.append(batch)
        except (grpc.RpcError, OSError, http.client.HTTPException):
            return  # the server is gone
        batch += 1
    if channel is not None:
        channel.close()


def stored_batches(db: Path) -> dict[int, int]:
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY 1").fetchall()
    return {int(trace, 16): int(n) for trace, n in rows}


def run(args: argparse.Namespace) -> list[Round]:
    db = Path(args.db or Path(tempfile.mkdtemp(prefix="otelwatch-durability-")) / "d.duckdb")
    rng = random.Random(args.seed)
    all_acked: set[int] = set()
    rounds = []
    for number in range(1, args.rounds + 1):
        proc, grpc_addr, http_addr, restart_s = start(db)
        acked: list[int] = []
        stop = threading.Event()
        kinds = ["grpc", "http-protobuf", "http-json"]
        threads = [
            threading.Thread(
                target=sender,
                args=(
                    kinds[k % 3],
                    grpc_addr if kinds[k % 3] == "grpc" else http_addr,
                    (number * 100 + k) * 100_000 + 1,
                    acked,
                    stop,
                ),
            )
            for k in range(args.senders)
        ]
        for t in threads:
            t.start()
        load_s = rng.uniform(args.min_load, args.max_load)
        time.sleep(load_s)
        proc.send_signal(signal.SIGKILL)  # mid-traffic
        proc.wait(30)
        stop.set()
        for t in threads:
            t.join(30)
        all_acked.update(acked)
        stored = stored_batches(db)
        this_round = {b for b in stored if (b // 100_000) // 100 == number}
        lost = len(all_acked - set(stored))
        partial = sum(1 for n in stored.values() if n != SPANS)
        rounds.append(
            Round(
                round=number,
                load_s=round(load_s, 2),
                acknowledged=len(acked),
                stored=len(this_round),
                lost=lost,
                partial=partial,
                in_flight_stored=len(this_round - set(acked)),
                restart_s=round(restart_s, 2),
            )
        )
        r = rounds[-1]
        print(
            f"round {number:2d}: {r.acknowledged:5d} acknowledged in {r.load_s:4.1f} s, "
            f"{r.stored:5d} stored ({r.in_flight_stored} in flight), lost {r.lost}, "
            f"partial {r.partial}, restart {r.restart_s:.2f} s",
            flush=True,
        )
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--senders", type=int, default=6, help="threads (gRPC, HTTP, HTTP/JSON)")
    parser.add_argument("--min-load", type=float, default=1.0, help="seconds before the kill")
    parser.add_argument("--max-load", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--db", help="database file (default: a new temporary one)")
    parser.add_argument("--json", help="write the rounds here")
    args = parser.parse_args()
    rounds = run(args)
    total = sum(r.acknowledged for r in rounds)
    lost = rounds[-1].lost if rounds else 0
    partial = rounds[-1].partial if rounds else 0
    summary = {
        "rounds": len(rounds),
        "acknowledged_requests": total,
        "acknowledged_spans": total * SPANS,
        "lost_acknowledged": lost,
        "partial_requests": partial,
        "in_flight_stored": sum(r.in_flight_stored for r in rounds),
        "restart_s_max": max((r.restart_s for r in rounds), default=0.0),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "rounds": [asdict(r) for r in rounds]}, indent=2)
        )
    return 0 if lost == 0 and partial == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
