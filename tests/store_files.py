"""Test helpers: database files filled through the real receiver, then closed, and the CLI."""

from __future__ import annotations

import subprocess
import sys
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
