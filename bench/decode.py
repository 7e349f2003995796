"""What one decode worker spends per item: decode, pack into Arrow, pickle for the trip back.

    .venv/bin/python bench/decode.py --encoding protobuf --signal traces
    .venv/bin/python bench/decode.py --encoding json --signal logs --profile

The bodies are the load generator's (``bench/loadgen.py``), so this is the worker's share of
``bench/ingest.py``'s scenarios, measured alone in this process: no server, no sockets, one core.
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import pstats
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import build_bodies

from otelwatch.ingest.decode_pool import _decode_in_worker, _start_worker
from otelwatch.ingest.decoding import Decoding
from otelwatch.ingest.limits import Limits, enforce
from otelwatch.ingest.signals import Encoding, Signal

SIGNALS = {"traces": Signal.TRACES, "logs": Signal.LOGS, "metrics": Signal.METRICS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoding", choices=["protobuf", "json"], default="protobuf")
    parser.add_argument("--signal", choices=[*SIGNALS, "mixed"], default="traces")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--bodies", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes; the best is shown")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one pass")
    args = parser.parse_args()

    json_body = args.encoding == "json"
    encoding = Encoding.JSON if json_body else Encoding.PROTOBUF
    bodies = build_bodies(args.signal, args.batch, args.bodies, json_body, seed=1)
    _start_worker(Decoding(partial(enforce, limits=Limits())))

    def one_pass() -> int:
        items = 0
        for body in bodies:
            batch = _decode_in_worker(SIGNALS[body.signal], encoding, body.data, time.time_ns())
            pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            items += body.items
        return items

    one_pass()  # warm the attribute caches, as a running worker's are
    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        items = one_pass()
        best = min(best, (time.perf_counter() - started) / items)
    size = sum(len(b.data) for b in bodies) / sum(b.items for b in bodies)
    print(
        f"{args.encoding} {args.signal}, batches of {args.batch}: {best * 1e6:.1f} µs per item "
        f"(best of {args.rounds}), {size:.0f} bytes of body per item"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(one_pass)
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
