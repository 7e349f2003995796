"""``otelwatch serve`` in a subprocess on free ports, for the benchmarks (a sibling module)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def start_serve(
    db: Path,
    extra: Sequence[str] = (),
    *,
    cwd: Path | None = None,
    stderr: int | None = subprocess.PIPE,
) -> tuple[subprocess.Popen[str], str, str]:
    """Start ``otelwatch serve -q`` on ``db``; return it with its gRPC and HTTP addresses once
    it listens, or raise ``RuntimeError`` (with its stderr when that is a pipe). With ``cwd``,
    ``python -m`` runs the code under that directory (it comes first on ``sys.path``). A long
    run should not leave stderr a pipe nobody reads: a full pipe would stall the server."""
    ports = ("--grpc-port", "0", "--http-port", "0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "otelwatch", "serve", "--db", str(db), *ports, "-q", *extra],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    grpc_addr = http_addr = ""
    while not (grpc_addr and http_addr):
        line = proc.stdout.readline()
        if not line:  # it exited
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise RuntimeError(f"otelwatch serve did not start: {(err or '').strip()}")
        if m := re.search(r"OTLP/gRPC\s+(\S+)", line):
            grpc_addr = m[1]
        if m := re.search(r"OTLP/HTTP\s+https?://(\S+)", line):
            http_addr = m[1]
    return proc, grpc_addr, http_addr
