"""Test helpers: database files filled through the real receiver, then closed, and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from otlp_clients import recorded

from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.runtime import Runtime, Settings

OTELWATCH = [sys.executable, "-m", "otelwatch"]


def build_db(path: Path, requests: list[tuple[str, str, bytes]]) -> Path:
    """A database file holding ``requests`` (signal, ``protobuf``/``json``, body), stored by the
    real receiver and writer with no listener; closed when this returns."""
    runtime = Runtime(Settings(db=str(path), listen=False))
    runtime.start()
    try:
        assert runtime.receiver is not None
        for signal, encoding, body in requests:
            runtime.receiver.export(Signal(signal), Encoding(encoding), body)
    finally:
        runtime.stop()
    return path


def recorded_requests(transport: str = "grpc") -> list[tuple[str, str, bytes]]:
    """The recorded Claude Code session of one transport, as build_db takes it."""
    encoding = "json" if transport == "http-json" else "protobuf"
    return [(r.signal, encoding, r.body) for r in recorded(transport)]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def otelwatch(*args: str, stdin: str | None = None, timeout: float = 60) -> Run:
    """Run the otelwatch command line in a new process."""
    proc = subprocess.run(
        [*OTELWATCH, *args], capture_output=True, text=True, timeout=timeout, input=stdin
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def start_serve(
    db: Path, *extra: str, prefix: Sequence[str] = (), env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str, str]:
    """``otelwatch serve`` on ``db`` and free ports in a new process (run under ``prefix``, e.g.
    ``setpriv …``): the process and its gRPC and HTTP addresses, once it listens. The caller
    stops it. If it never listens, the error shows what it wrote to stderr."""
    ports = ("--grpc-port", "0", "--http-port", "0")
    proc = subprocess.Popen(
        [*prefix, *OTELWATCH, "serve", "--db", str(db), *ports, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    grpc_addr = http_addr = ""
    while not (grpc_addr and http_addr):
        line = proc.stdout.readline()
        if not line:  # it exited
            break
        if m := re.search(r"OTLP/gRPC\s+(\S+)", line):
            grpc_addr = m[1]
        if m := re.search(r"OTLP/HTTP\s+https?://(\S+)", line):
            http_addr = m[1]
    if not (grpc_addr and http_addr):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"otelwatch serve did not start: {err}")
    return proc, grpc_addr, http_addr
