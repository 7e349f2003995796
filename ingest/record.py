"""Recordings in the OpenTelemetry Collector's file-exporter format, written and read.

A recording is a JSON Lines file: each line is one OTLP/JSON ``ExportTraceServiceRequest``,
``ExportMetricsServiceRequest`` or ``ExportLogsServiceRequest`` (top-level key ``resourceSpans``,
``resourceMetrics`` or ``resourceLogs``), exactly what the Collector's ``file`` exporter writes
with ``format: json`` (its default). One file may mix the three signals: each line says which it
is. ``otelwatch serve --record`` writes them, ``otelwatch import`` loads them, ``otelwatch replay``
sends them to any OTLP receiver.

A request is appended after it was committed and before it is acknowledged, and the line is
flushed to the operating system at once, so a crash of otelwatch loses no acknowledged request
from the recording.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelwatch.ingest import otlp_json_encode
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.signals import Encoding, Signal

log = logging.getLogger(__name__)

MESSAGES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
}
TOP_LEVEL_KEYS = {
    "resourceSpans": Signal.TRACES,
    "resourceMetrics": Signal.METRICS,
    "resourceLogs": Signal.LOGS,
}
_FIRST_KEY = re.compile(rb'\s*\{\s*"(resourceSpans|resourceMetrics|resourceLogs)"')
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# ---------------------------------------------------------------- writing


def to_line(signal: Signal, encoding: Encoding, body: bytes) -> bytes:
    """One accepted request as a line of the recording (without the newline).

    Protobuf is converted to OTLP/JSON; JSON is re-serialised compactly, because a pretty-printed
    body would span several lines.
    """
    if encoding is Encoding.PROTOBUF:
        message = MESSAGES[signal]()
        message.ParseFromString(body)
        return otlp_json_encode.encode(message)
    document = json.loads(body)
    try:
        return _dumps(document).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it as a JSON escape
        return json.dumps(document, separators=(",", ":")).encode("ascii")


class Recorder:
    """Appends every request it is given to a recording; the receiver's ``recorder`` hook.

    Thread-safe: each request is one ``write`` of a whole line under a lock, so lines from
    concurrent requests never interleave. A failure to record (disk full) is logged and counted
    but does not fail the request: its data is already committed to the database.
    """

    def __init__(self, path: Path) -> None:
        """Open ``path`` for appending (created if missing). Raises ``OSError``."""
        self.path = path
        self._file: IO[bytes] = path.open("ab", buffering=0)
        self._lock = threading.Lock()
        self.lines = 0
        self.failures = 0
        self.last_error = ""

    def __call__(self, signal: Signal, encoding: Encoding, body: bytes) -> None:
        """Record one committed request."""
        try:
            line = to_line(signal, encoding, body) + b"\n"
            with self._lock:
                # Unbuffered: this write reaches the OS before the request is acknowledged.
                self._file.write(line)
                self.lines += 1
        except Exception as exc:
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("could not record a %s request to %s", signal, self.path)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class Record:
    """One request of a recording: where it was, its signal, and its OTLP/JSON text."""

    path: Path
    line: int
    signal: Signal
    body: bytes


class RecordingError(Exception):
    """A file that is not a recording at all (as opposed to one bad line in it)."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not an OTLP/JSON export request."""

    path: Path
    line: int
    reason: str


def _open(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if head == b"\x1f\x8b":
        return gzip.open(raw)  # type: ignore[return-value]
    return raw


def read_records(path: Path) -> Iterator[Record | BadLine]:
    """Every request in the recording at ``path`` (plain or gzip), in file order.

    Blank lines are skipped; a line that is not an export request is yielded as a
    :class:`BadLine`. Raises :class:`RecordingError` for a file that is not JSON Lines at all
    (such as the Collector's length-prefixed ``format: proto``), and ``OSError``.
    """
    with _open(path) as stream:
        for number, raw in enumerate(stream, 1):
            line = raw.strip()
            if not line:
                continue
            if number == 1 and not line.startswith(b"{"):
                raise RecordingError(
                    f"{path} is not a JSON Lines recording (OTLP/JSON, one request per line); "
                    "the Collector's file exporter writes one with format: json"
                )
            signal = _signal(line)
            # Signal is a StrEnum, so ask for it first: a reason is a plain str.
            if isinstance(signal, Signal):
                yield Record(path, number, signal, line)
            else:
                yield BadLine(path, number, signal)


def _signal(line: bytes) -> Signal | str:
    """The signal of a line from its top-level key, or why it has none."""
    match = _FIRST_KEY.match(line)
    if match:
        return TOP_LEVEL_KEYS[match[1].decode()]
    try:
        document = json.loads(line)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(document, dict):
        return "not a JSON object"
    keys = [key for key in TOP_LEVEL_KEYS if key in document]
    if len(keys) != 1:
        return "no resourceSpans, resourceMetrics or resourceLogs at the top level"
    return TOP_LEVEL_KEYS[keys[0]]


# ---------------------------------------------------------------- for replay


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """How many items a request holds, and when it could first have been sent: the latest time
    among its items (span end, log record time or else observed time, data point time), or
    ``None`` when it holds no time."""

    items: int
    time_ns: int | None


def record_info(record: Record) -> RecordInfo:
    """Items and time of one request. Raises ``ValueError`` if the line is not JSON."""
    document = json.loads(record.body)
    latest = 0
    items = 0

    def see(value: Any) -> None:
        nonlocal latest, items
        items += 1
        with contextlib.suppress(TypeError, ValueError):
            latest = max(latest, int(value))

    for resource in document.get("resourceSpans") or ():
        for scope in resource.get("scopeSpans") or ():
            for span in scope.get("spans") or ():
                see(span.get("endTimeUnixNano"))
    for resource in document.get("resourceLogs") or ():
        for scope in resource.get("scopeLogs") or ():
            for item in scope.get("logRecords") or ():
                see(item.get("timeUnixNano") or item.get("observedTimeUnixNano"))
    for resource in document.get("resourceMetrics") or ():
        for scope in resource.get("scopeMetrics") or ():
            for metric in scope.get("metrics") or ():
                for kind in ("sum", "gauge", "histogram", "exponentialHistogram", "summary"):
                    for point in (metric.get(kind) or {}).get("dataPoints") or ():
                        see(point.get("timeUnixNano"))
    return RecordInfo(items, latest or None)


def to_protobuf(record: Record) -> bytes:
    """The request as protobuf, for OTLP/gRPC. Raises :class:`DecodeError` if it cannot be."""
    try:
        document = json.loads(record.body)
        _base64_ids(document)
        message = json_format.ParseDict(
            document, MESSAGES[record.signal](), ignore_unknown_fields=True
        )
    except (ValueError, json_format.ParseError, ProtoDecodeError) as exc:
        raise DecodeError(f"not a valid OTLP/JSON {record.signal} request: {exc}") from None
    return message.SerializeToString()


def _base64_ids(node: Any) -> None:
    """Hex ids (OTLP/JSON) into base64 (protobuf's JSON mapping), in place; the inverse of
    ``otlp_json_encode``'s rewrite. Ids that are not hex are left for the parser to judge."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in otlp_json_encode.ID_FIELDS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            elif key not in ("attributes", "body") and isinstance(value, dict | list):
                _base64_ids(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _base64_ids(item)
