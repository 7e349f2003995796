"""Ingest benchmark: otelwatch serve under Claude-Code-shaped load, checked row by row.

For each scenario: start ``otelwatch serve`` on a new database file with free ports, warm it up,
run the load generator (``bench/loadgen.py``) in this process, stop the server (SIGINT: it drains
and commits everything queued), then open the file read-only and check that it holds exactly the
spans, events and metric points that were acknowledged. Prints a Markdown table.

    .venv/bin/python bench/ingest.py                  # every scenario, about three minutes
    .venv/bin/python bench/ingest.py --only grpc-500 --json-out /tmp/ingest.json
    .venv/bin/python bench/ingest.py --only grpc-500 --py-spy /tmp/grpc.svg

The machine is shared: before each scenario it waits (up to ``--max-wait``) until other work keeps
fewer than ``--max-busy`` cores busy; it measures the CPU that the server, the load generator and
everything else used during the run, and runs a scenario again when the others took more than
``--max-other`` percent of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # a sibling script, not a package
from quiet import machine_cpu, wait_for_quiet
from serve import start_serve

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"traces": "spans", "logs": "log_events", "metrics": "metric_points"}


# Batches of 500 come from a batching sender, most often an OpenTelemetry Collector, whose
# exporters send with `sending_queue.num_consumers` concurrent requests: 10 by default
# (opentelemetry-collector, exporter/exporterhelper/README.md). The 4-sender scenarios stay
# too, as the harder case for group commit.
COLLECTOR_SENDERS = 10


@dataclass(frozen=True, slots=True)
class Scenario:
    """One measured run: loadgen arguments plus the target it is judged against."""

    name: str
    title: str
    argv: list[str]
    target: str = ""
    check: str = ""  # "rate>=N" or "paced" (no errors, p99 < 100 ms)


def _load(transport: str, signal: str, senders: int, *extra: str | int) -> list[str]:
    """The load generator's arguments for one scenario."""
    argv = ["--transport", transport, "--signal", signal, "--senders", str(senders)]
    return argv + [str(x) for x in extra]


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios of the ingest issue; ``quick`` shrinks them for a smoke test."""
    n = 5 if quick else 1
    duration = 5 if quick else 25
    paced = ("--rate", 20000, "--duration", duration)
    return [
        Scenario(
            "grpc-500",
            "gRPC, traces, batches of 500, max rate",
            _load("grpc", "traces", 4, "--batch", 500, "--requests", 400 // n),
            "≥ 50,000 spans/s",
            "rate>=50000",
        ),
        Scenario(
            "grpc-500-10",
            "gRPC, traces, batches of 500, max rate, 10 senders (a Collector's default)",
            _load("grpc", "traces", COLLECTOR_SENDERS, "--batch", 500, "--requests", 400 // n),
            "≥ 50,000 spans/s",
            "rate>=50000",
        ),
        Scenario(
            "http-json",
            "HTTP/JSON, traces, batches of 500, max rate",
            _load("http-json", "traces", 4, "--batch", 500, "--requests", 120 // n),
            "≥ 30,000 spans/s",
            "rate>=30000",
        ),
        Scenario(
            "http-protobuf",
            "HTTP/protobuf, traces, batches of 500, max rate",
            _load("http-protobuf", "traces", 4, "--batch", 500, "--requests", 300 // n),
        ),
        Scenario(
            "grpc-mixed",
            "gRPC, traces + logs + metrics in turn, batches of 500, max rate",
            _load("grpc", "mixed", 4, "--batch", 500, "--requests", 300 // n),
            "≥ 45,000 items/s",
            "rate>=45000",
        ),
        Scenario(
            "grpc-mixed-10",
            "gRPC, traces + logs + metrics in turn, batches of 500, max rate, 10 senders",
            _load("grpc", "mixed", COLLECTOR_SENDERS, "--batch", 500, "--requests", 300 // n),
            "≥ 45,000 items/s",
            "rate>=45000",
        ),
        Scenario(
            "grpc-claude",
            "gRPC, Claude Code's own request sizes (64 sessions), max rate",
            _load("grpc", "claude", 4, "--requests", 3000 // n),
        ),
        Scenario(
            "grpc-paced",
            f"gRPC, traces, batches of 500, paced at 20,000 spans/s for {duration} s",
            _load("grpc", "traces", 4, "--batch", 500, *paced),
            "no errors, p99 < 100 ms",
            "paced",
        ),
        Scenario(
            "grpc-paced-100",
            f"gRPC, traces, batches of 100, paced at 20,000 spans/s for {duration} s",
            _load("grpc", "traces", 8, "--batch", 100, *paced),
            "no errors, p99 < 100 ms",
            "paced",
        ),
    ]


# --------------------------------------------------------------------------- the server


class Server:
    """``otelwatch serve`` as a subprocess on free ports."""

    def __init__(self, db: Path, root: Path) -> None:
        deadline = time.monotonic() + 30
        self.process, self.grpc, self.http = start_serve(db, cwd=root)
        # The decoder processes start in the background (the server decodes itself until they
        # are up); wait for the fork server and both workers so the run measures them.
        while len(descendants(self.process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the server and its descendants (the decode workers)."""
        return sum(process_cpu(pid) for pid in descendants(self.process.pid))

    def stop(self) -> str:
        """SIGINT (drain, commit, exit) and return what it printed last."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=120)
        return out.strip().splitlines()[-1] if out.strip() else ""


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of one process, its waited-for children included; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: the c-fields hold workers that already exited.
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the forkserver and the decode workers it starts)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


class WalWatch:
    """Notices DuckDB's checkpoints from outside: the write-ahead log file shrinks to nothing.

    A checkpoint blocks the commit that triggers it, so requests waiting on that commit are
    slow; this tells whether the slow requests of a run are explained by checkpoints.
    """

    def __init__(self, db: Path) -> None:
        self._wal = Path(f"{db}.wal")
        self.resets: list[float] = []  # perf_counter times at which the log was seen reset
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = 0
        while not self._stop.wait(0.005):
            try:
                size = self._wal.stat().st_size
            except OSError:
                size = 0
            if size < last:
                self.resets.append(time.perf_counter())
            last = size

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join()

    def explain(self, outcomes: list[loadgen.Outcome], slow_ms: float = 100.0) -> dict[str, int]:
        """How many requests were slow, and how many of those were in flight at a checkpoint."""
        slow = [o for o in outcomes if o.latency_s * 1000 > slow_ms]
        during = sum(
            1
            for o in slow
            # The reset is seen when the checkpoint ends, up to 5 ms late.
            if any(o.started <= t <= o.started + o.latency_s + 0.01 for t in self.resets)
        )
        return {"checkpoints": len(self.resets), "slow": len(slow), "slow_at_checkpoint": during}


def server_code(commit: str | None, tmp: Path) -> tuple[Path, str]:
    """Where the server's code is, and a description of it (commit, and whether edited)."""

    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()

    if commit is None:
        dirty = git("status", "--porcelain", "--untracked-files=no")
        head = git("rev-parse", "--short", "HEAD")
        return ROOT, f"working tree at {head}" + (" with uncommitted changes" if dirty else "")
    resolved = git("rev-parse", "--short", commit)
    root = tmp / "server"
    root.mkdir()
    archive = subprocess.run(
        ["git", "archive", resolved], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root, f"commit {resolved}"


def stored_rows(db: Path) -> dict[str, int]:
    """Row counts per signal, read from the database file after the server exited."""
    with duckdb.connect(str(db), read_only=True) as conn:
        counts = {}
        for sig, table in TABLES.items():
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[sig] = int(row[0]) if row else 0
        return counts


# --------------------------------------------------------------------------- a scenario


@dataclass
class Result:
    """A scenario's figures and verdicts."""

    name: str
    title: str
    command: str
    busy_before: float
    checkpoints: dict[str, int]
    report: dict[str, Any]
    server_cpu_percent: float
    other_cpu_percent: float
    stored: dict[str, int]
    acknowledged: dict[str, int]
    stored_matches: bool
    target: str
    verdict: str
    notes: list[str] = field(default_factory=list)


def run_scenario(scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Result:
    """Start a server, load it, stop it, and check the file against the acknowledgements."""
    busy = wait_for_quiet(args.max_busy, args.max_wait)
    db = workdir / f"{scenario.name}.duckdb"
    server = Server(db, args.server_root)
    transport = scenario.argv[scenario.argv.index("--transport") + 1]
    target = server.grpc if transport == "grpc" else server.http
    argv = [*scenario.argv, "--target", target]
    profiler = None
    if args.py_spy and scenario.name in args.only:
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server.process.pid),
                "--output",
                args.py_spy,
                "--format",
                "flamegraph" if args.py_spy.endswith(".svg") else "raw",
                "--threads",
                "--subprocesses",  # the decode workers too
                *(["--gil"] if args.gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    if args.senders is not None:
        argv[argv.index("--senders") + 1] = str(args.senders)
    lg_args = loadgen.parse_args(argv)
    marks: dict[str, float] = {}

    def log(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)
        if line.startswith("warmed up"):  # the timed run starts now
            marks["server"] = server.cpu_seconds()
            marks["machine"] = machine_cpu()

    watch = WalWatch(db)
    outcomes: list[loadgen.Outcome] = []
    report = loadgen.execute(lg_args, log=log, keep=outcomes)
    watch.stop()
    cpu = server.cpu_seconds() - marks["server"]
    machine = machine_cpu() - marks["machine"]
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
    last_line = server.stop()
    stored = stored_rows(db)
    acknowledged = {
        sig: report.acknowledged_by_signal.get(sig, 0) + report.warmup.get(sig, 0) for sig in TABLES
    }
    result = Result(
        name=scenario.name,
        title=scenario.title,
        command="python bench/loadgen.py " + " ".join(argv[:-2]),  # without --target
        busy_before=round(busy, 2),
        checkpoints=watch.explain(outcomes),
        report=asdict(report),
        # The server's CPU over the whole timed run (warm-up excluded); 100 % is one core.
        server_cpu_percent=round(100 * cpu / report.seconds) if report.seconds else 0.0,
        # Everything else the machine did meanwhile (other engineers' tests, say).
        other_cpu_percent=round(
            100 * max(0.0, machine - cpu - report.client_cpu_s) / report.seconds
        )
        if report.seconds
        else 0.0,
        stored=stored,
        acknowledged=acknowledged,
        stored_matches=stored == acknowledged,
        target=scenario.target,
        verdict=verdict(scenario, report),
        notes=[last_line],
    )
    for path in db.parent.glob(f"{db.name}*"):
        path.unlink()
    return result


def verdict(scenario: Scenario, report: loadgen.Report) -> str:
    """Met, missed, or nothing to judge."""
    if scenario.check.startswith("rate>="):
        wanted = float(scenario.check.split(">=")[1])
        return "met" if report.items_per_s >= wanted and not report.errors else "missed"
    if scenario.check == "paced":
        ok = not report.errors and report.latency_ms["p99"] < 100
        return "met" if ok else "missed"
    return ""


def table(results: list[Result]) -> str:
    """The Markdown table of every result."""
    lines = [
        "| scenario | items/s | requests/s | p50 ms | p99 ms | max ms | errors "
        "| CPU % server / loadgen / others | stored = acked | target |",
        "|---|--:|--:|--:|--:|--:|---|--:|---|---|",
    ]
    for r in results:
        rep = r.report
        lat = rep["latency_ms"]
        errors = ", ".join(f"{k} ×{v}" for k, v in rep["errors"].items()) or "none"
        target = f"{r.target}: **{r.verdict}**" if r.target else ""
        client = 100 * rep["client_cpu_s"] / rep["seconds"] if rep["seconds"] else 0.0
        lines.append(
            f"| {r.title} | {rep['items_per_s']:,.0f} | {rep['requests_per_s']:,.1f} "
            f"| {lat['p50']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} | {errors} "
            f"| {r.server_cpu_percent:.0f} / {client:.0f} / {r.other_cpu_percent:.0f} "
            f"| {'yes' if r.stored_matches else 'NO'} ({sum(r.stored.values()):,} rows) "
            f"| {target} |"
        )
    return "\n".join(lines)


def checkpoint_table(results: list[Result]) -> str:
    """Slow requests (over 100 ms) and DuckDB checkpoints, per scenario."""
    lines = [
        "| scenario | DuckDB checkpoints | requests over 100 ms | of those, in flight at a "
        "checkpoint |",
        "|---|--:|--:|--:|",
    ]
    for r in results:
        c = r.checkpoints
        lines.append(
            f"| {r.title} | {c['checkpoints']} | {c['slow']} | {c['slow_at_checkpoint']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print the table."""
    names = [s.name for s in scenarios(False)]
    parser = argparse.ArgumentParser(prog="bench/ingest.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        default=names,
        metavar="NAME",
        help=f"scenarios to run (default all: {', '.join(names)})",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.15,
        help="before a scenario, wait until other work keeps fewer than this many cores busy",
    )
    parser.add_argument(
        "--max-other",
        type=float,
        default=20.0,
        help="run a scenario again when other processes used more than this percent of a core "
        "during it (default 20)",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-runs allowed per scenario")
    parser.add_argument("--max-wait", type=float, default=180.0, help="at most this long, s")
    parser.add_argument("--json-out", default=None, help="also write the results here as JSON")
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="FILE",
        help="profile the server with py-spy during the selected scenarios "
        "(.svg: flame graph, otherwise raw collapsed stacks)",
    )
    parser.add_argument(
        "--gil",
        action="store_true",
        help="with --py-spy: sample only the thread holding the GIL (what Python spends it on)",
    )
    parser.add_argument(
        "--senders", type=int, default=None, help="override every scenario's number of senders"
    )
    parser.add_argument(
        "--server-commit",
        default=None,
        metavar="REV",
        help="run the server from this commit (git archive into a temporary directory) "
        "instead of the working tree, which others may be editing",
    )
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="otelwatch-bench-") as tmp:
        args.server_root, code = server_code(args.server_commit, Path(tmp))
        print(f"server code: {code}", file=sys.stderr, flush=True)
        for scenario in scenarios(args.quick):
            if scenario.name not in args.only:
                continue
            print(f"{scenario.name}: {scenario.title}", file=sys.stderr, flush=True)
            result = run_scenario(scenario, args, Path(tmp))
            for _ in range(args.retries):
                if result.other_cpu_percent <= args.max_other:
                    break
                print(
                    f"  other processes used {result.other_cpu_percent:.0f} % CPU: again",
                    file=sys.stderr,
                    flush=True,
                )
                again = run_scenario(scenario, args, Path(tmp))
                # Keep the least disturbed run; a missed stored = acked check is never hidden.
                if not again.stored_matches or (
                    result.stored_matches and again.other_cpu_percent < result.other_cpu_percent
                ):
                    result = again
            results.append(result)
            print(
                f"  {json.dumps(result.report['latency_ms'])} "
                f"{result.report['items_per_s']:,.0f} items/s; stored "
                f"{result.stored} vs acknowledged {result.acknowledged}",
                file=sys.stderr,
                flush=True,
            )
    print(f"Server code: {code}.\n")
    print(table(results))
    print()
    print(checkpoint_table(results))
    if args.json_out:
        document = {"server_code": code, "results": [asdict(r) for r in results]}
        Path(args.json_out).write_text(json.dumps(document, indent=2))
    return 0 if all(r.stored_matches for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
