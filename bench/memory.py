"""Memory: the resident size of a full otelwatch on a large database, used as a user would.

Plain ``otelwatch`` (listeners, decode workers, writer, checkpointer, dashboard) on a copy of
``--db`` (``bench/bigdb.py`` builds one of a million spans, events and metric points), in a
tmux pane of 120x40 like ``bench/screen.py``. Steps: the Overview's first frame; each view
(2, 3, 4); the newest trace (the 10,000-span one in bigdb's database) opened and scrolled to
its end; a session summary exported (``x`` in Sessions); then, with ``--ingest-seconds``,
Claude Code's stream of small requests at ``--rate`` items/s through the real gRPC listener.
After each step: VmRSS and VmHWM of the otelwatch process (from ``/proc/PID/status``), and the
proportional set size (PSS, shared pages divided among their users) of the whole process tree,
decode workers included.

    .venv/bin/python bench/memory.py --db /tmp/otelwatch-1m.duckdb --ingest-seconds 60
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screen import command, first_frame_shown, pane, quit_app, tmux, tree, wait_for

ROOT = Path(__file__).resolve().parent.parent
KIB = 1024
MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def sample(pid: int, step: str) -> dict[str, Any]:
    pids = tree(pid)
    row = {
        "step": step,
        "rss_mib": round(status_kib(pid, "VmRSS") / KIB, 1),
        "hwm_mib": round(status_kib(pid, "VmHWM") / KIB, 1),
        "tree_pss_mib": round(sum(pss_kib(p) for p in pids) / KIB, 1),
        "tree_rss_mib": round(sum(status_kib(p, "VmRSS") for p in pids) / KIB, 1),
        "processes": len(pids),
    }
    print(row, file=sys.stderr)
    return row


def shows(pattern: str) -> Any:
    return lambda text: re.search(pattern, text) is not None


def ingest(text: str, rate: float, seconds: float) -> dict[str, Any]:
    """Claude Code's natural stream at ``rate`` items/s to the gRPC address on the screen."""
    match = re.search(r"gRPC (\S+)", text)
    if match is None:
        raise RuntimeError(f"no gRPC address on screen:\n{text}")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "loadgen.py"),
            "--target",
            match.group(1),
            "--signal",
            "claude",
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--senders",
            "16",
            "--json",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout)
    return {k: report[k] for k in ("items_acknowledged", "items_per_s", "errors")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/otelwatch-1m.duckdb"))
    parser.add_argument("--ingest-seconds", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    samples: list[dict[str, Any]] = []
    result: dict[str, Any] = {"db": str(args.db), "db_mib": round(args.db.stat().st_size / MIB)}
    with tempfile.TemporaryDirectory(prefix="otelwatch-memory-") as name:
        tmp = Path(name)
        db = tmp / "memory.duckdb"
        shutil.copy(args.db, db)
        session = f"memory-bench-{time.time_ns()}"
        started = time.monotonic()
        # The pane's directory is the scratch one: the export writes its file there.
        pid = int(
            tmux(
                "new-session", "-d", "-P", "-F", "#{pane_pid}", "-s", session, "-c", str(tmp),
                "-x", "120", "-y", "40", "--", *command(db, listen=True),
            ).strip()
        )  # fmt: skip
        try:
            _, text = wait_for(session, first_frame_shown, timeout=120)
            result["first_frame_s"] = round(time.monotonic() - started, 2)
            samples.append(sample(pid, "start: Overview shown"))
            for key, marker in (
                ("2", r"last seen"),
                ("3", r"newest traces"),
                ("4", r"\d\d:\d\d:\d\d"),
            ):
                tmux("send-keys", "-t", session, key)
                wait_for(session, shows(marker), timeout=60)
                time.sleep(3)  # the load's frame, and any late allocation
                samples.append(sample(pid, f"view {key} shown"))
            tmux("send-keys", "-t", session, "3")
            wait_for(session, shows(r"newest traces"), timeout=60)
            tmux("send-keys", "-t", session, "Enter")
            wait_for(session, shows(r"critical path"), timeout=60)
            tmux("send-keys", "-t", session, "End")
            time.sleep(3)
            opened = re.search(r"([\d,]+) spans", pane(session))
            result["trace_spans"] = opened.group(1) if opened else None
            samples.append(sample(pid, "newest trace opened, scrolled to its end"))
            tmux("send-keys", "-t", session, "Escape")
            time.sleep(1)  # else tmux reads Escape and the next key as one Alt-key
            tmux("send-keys", "-t", session, "2")
            wait_for(session, shows(r"last seen"), timeout=60)
            tmux("send-keys", "-t", session, "Down")
            time.sleep(1)
            tmux("send-keys", "-t", session, "x")
            wait_for(session, shows(r"Session summary written"), timeout=120)
            result["exported"] = [p.name for p in tmp.glob("*.md")]
            samples.append(sample(pid, "session summary exported"))
            if args.ingest_seconds:
                tmux("send-keys", "-t", session, "1")
                result["ingest"] = ingest(text, args.rate, args.ingest_seconds)
                samples.append(sample(pid, f"after {args.ingest_seconds:.0f} s of ingest"))
                time.sleep(5)
                samples.append(sample(pid, "5 s later"))
        finally:
            quit_app(session, pid)
    result["samples"] = samples
    result["max_hwm_mib"] = max(s["hwm_mib"] for s in samples)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
