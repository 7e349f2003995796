"""How busy the machine is, and waiting until it is quiet before measuring (a sibling module).

The load average lags by minutes (and counts the benchmark's own previous run), so these
sample the CPU actually in use, from ``/proc/stat``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait; guest time is already counted in user
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def busy_cores(seconds: float = 3.0) -> float:
    """How many cores the machine keeps busy right now (averaged over ``seconds``)."""
    before = machine_cpu()
    time.sleep(seconds)
    return (machine_cpu() - before) / seconds


def wait_for_quiet(max_busy: float, max_wait: float) -> float:
    """Wait until other work keeps less than ``max_busy`` cores busy (or ``max_wait`` s have
    passed); returns the last sample."""
    deadline = time.monotonic() + max_wait
    busy = busy_cores()
    while busy >= max_busy and time.monotonic() < deadline:
        busy = busy_cores(5.0)
    return busy
