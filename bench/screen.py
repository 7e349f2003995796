"""The screen as a user sees it: start to first frame, and CPU while idle.

Runs the real ``otelwatch`` in a real terminal (a tmux pane of 120x40) and reads the pane with
``tmux capture-pane -p``, as a user's eyes would:

1. **Start to first frame**: from launching ``otelwatch --db X --no-listen`` (read-only) or plain
   ``otelwatch --db X`` (listeners on free ports, decode workers, writer) until the Overview's
   first frame *with its data* is in the pane: the cost total and the footer on a database with
   data, the connect instructions on an empty one. ``--runs`` launches each, median and max.
   The database is copied before each plain run (that one may write), so every run starts alike.
   Also measured from inside: the interpreter's imports alone (``python -c "import ..."``).
2. **Idle CPU**: plain ``otelwatch`` on (a copy of) a database with data, no ingest; each view
   (``--views``) is shown with its key, given ``--settle`` seconds to load, then the CPU time of
   the whole process tree (every thread of otelwatch and its decode workers, from
   ``/proc/PID/stat``) is read over ``--seconds``. Also the tmux server's CPU over the same
   window: the terminal's side of what the app redraws.

    .venv/bin/python bench/screen.py --db big.duckdb --runs 10 --json screen.json
    .venv/bin/python bench/screen.py --db small.duckdb --only idle --seconds 60

Run it under ``flock /tmp/otelwatch-bench.lock`` on a shared machine; it also waits until other
work keeps fewer than ``--max-busy`` cores busy before each part.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quiet import busy_cores, wait_for_quiet  # bench/ is not a package

from otelwatch.store import database

ROOT = Path(__file__).resolve().parent.parent
OTELWATCH = ROOT / ".venv" / "bin" / "otelwatch"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The Overview with its data: the cost panel's total, and the footer drawn below it.
DATA_FRAME = re.compile(r"\$\S+ total")
# An empty database: the connect instructions (listening) or the read-only hint.
EMPTY_FRAME = re.compile(r"No telemetry yet\.")
FOOTER = re.compile(r"q Quit")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def pane(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def first_frame_shown(text: str) -> bool:
    return bool(FOOTER.search(text)) and bool(DATA_FRAME.search(text) or EMPTY_FRAME.search(text))


def launch(session: str, command: list[str]) -> tuple[float, int]:
    """Start ``command`` in a new 120x40 tmux session; the launch time and the pane's pid."""
    started = time.monotonic()
    pid = tmux(
        "new-session",
        "-d",
        "-P",
        "-F",
        "#{pane_pid}",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "40",
        "--",
        *command,
    ).strip()
    return started, int(pid)


def wait_for(session: str, done: Any, timeout: float, poll: float = 0.02) -> tuple[float, str]:
    """Poll the pane until ``done(text)``; the time it was first seen and the text."""
    deadline = time.monotonic() + timeout
    while True:
        text = pane(session)
        now = time.monotonic()
        if done(text):
            return now, text
        if now > deadline:
            raise TimeoutError(f"not on screen after {timeout} s:\n{text}")
        time.sleep(poll)


def quit_app(session: str, pid: int) -> None:
    """Press q, wait for otelwatch to drain and exit, and close the tmux session."""
    tmux("send-keys", "-t", session, "q")
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def command(db: Path, listen: bool) -> list[str]:
    if listen:
        return [str(OTELWATCH), "--db", str(db), "--grpc-port", "0", "--http-port", "0"]
    return [str(OTELWATCH), "--db", str(db), "--no-listen"]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1000),
        "max_ms": round(max(values) * 1000),
        "min_ms": round(min(values) * 1000),
        "runs": len(values),
    }


def first_frame(db: Path, listen: bool, runs: int, tmp: Path) -> dict[str, Any]:
    """Launch otelwatch ``runs`` times; seconds from launch to the first frame with data."""
    times: list[float] = []
    for n in range(runs):
        target = tmp / f"first-{n}.duckdb"
        shutil.copy(db, target)
        session = f"screen-bench-{os.getpid()}-{n}"
        started, pid = launch(session, command(target, listen))
        try:
            shown, text = wait_for(session, first_frame_shown, timeout=60)
        finally:
            quit_app(session, pid)
        times.append(shown - started)
        for leftover in tmp.glob(f"first-{n}.duckdb*"):
            leftover.unlink()
    result = summary(times)
    result["kind"] = "data" if DATA_FRAME.search(text) else "empty"
    return result


def import_time(runs: int) -> dict[str, float]:
    """The interpreter starting and importing what plain ``otelwatch`` imports, nothing else."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "python"),
                "-c",
                "import otelwatch.cli, otelwatch.commands.dashboard",
            ],
            check=True,
        )
        times.append(time.monotonic() - t0)
    return summary(times)


# ---------------------------------------------------------------------------- idle CPU


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` (all their threads), in seconds."""
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def tmux_server_pid() -> int:
    return int(tmux("display-message", "-p", "#{pid}"))


def idle_cpu(
    db: Path, views: list[str], seconds: float, settle: float, tmp: Path
) -> dict[str, Any]:
    """CPU share of one core used by an idle dashboard, per view."""
    target = tmp / "idle.duckdb"
    shutil.copy(db, target)
    session = f"screen-idle-{os.getpid()}"
    _, pid = launch(session, command(target, listen=True))
    result: dict[str, Any] = {}
    try:
        wait_for(session, first_frame_shown, timeout=60)
        server = tmux_server_pid()
        for key in views:
            tmux("send-keys", "-t", session, key)
            time.sleep(settle)
            pids = tree(pid)
            cpu0, srv0, t0 = cpu_seconds(pids), cpu_seconds([server]), time.monotonic()
            time.sleep(seconds)
            cpu1, srv1, t1 = cpu_seconds(tree(pid)), cpu_seconds([server]), time.monotonic()
            result[key] = {
                "cpu_percent": round((cpu1 - cpu0) / (t1 - t0) * 100, 2),
                "tmux_server_cpu_percent": round((srv1 - srv0) / (t1 - t0) * 100, 2),
                "processes": len(pids),
            }
            print(f"view {key}: {result[key]}", file=sys.stderr)
    finally:
        quit_app(session, pid)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a database with data (copied)")
    parser.add_argument("--only", choices=("first-frame", "idle"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--views", default="1,2,3,4")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle CPU window per view")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--max-busy", type=float, default=0.3)
    parser.add_argument("--max-wait", type=float, default=300.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    result: dict[str, Any] = {"db": str(args.db), "db_bytes": args.db.stat().st_size}
    with tempfile.TemporaryDirectory(prefix="otelwatch-screen-") as name:
        tmp = Path(name)
        if args.only in (None, "first-frame"):
            result["busy_cores_before_first_frame"] = round(
                wait_for_quiet(args.max_busy, args.max_wait), 2
            )
            result["imports"] = import_time(args.runs)
            # --no-listen cannot create a database: an empty one, made (and migrated) here.
            empty = tmp / "empty.duckdb"
            database.connect(empty).close()
            frames = {}
            for label, db, listen in (
                ("empty, --no-listen", empty, False),
                ("empty, listening", empty, True),
                ("data, --no-listen", args.db, False),
                ("data, listening", args.db, True),
            ):
                frames[label] = first_frame(db, listen, args.runs, tmp)
                print(f"{label}: {frames[label]}", file=sys.stderr)
            result["first_frame"] = frames
        if args.only in (None, "idle"):
            result["busy_cores_before_idle"] = round(
                wait_for_quiet(args.max_busy, args.max_wait), 2
            )
            result["idle"] = idle_cpu(
                args.db, args.views.split(","), args.seconds, args.settle, tmp
            )
            result["busy_cores_after"] = round(busy_cores(1.0), 2)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
