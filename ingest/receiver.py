"""The one consumer behind both listeners: decode a request, write it, say what happened.

The gRPC and HTTP servers only translate their transport to :meth:`Receiver.export` and its
exceptions back to status codes, so both listeners accept and refuse exactly the same things.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from otelwatch.ingest.decoding import Decode, Decoding
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.store.errors import StoreUnavailable
from otelwatch.store.rows import RowBatch

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where decoded batches go: the store's writer.

    ``write`` returns once the batch is committed. It raises ``StoreFull`` when it cannot take
    more now, ``StoreUnavailable`` when it cannot commit, and ``BatchRejected`` when the content
    itself cannot be stored.
    """

    def write(self, batch: RowBatch) -> None: ...


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The outcome of an accepted request: how many items were refused, and why."""

    signal: Signal
    accepted: int
    rejected: int = 0
    message: str = ""

    def response_proto(self) -> bytes:
        """The ``Export*ServiceResponse`` as protobuf, with ``partial_success`` if needed."""
        return _response(self).SerializeToString()

    def response_json(self) -> bytes:
        """The ``Export*ServiceResponse`` as OTLP/JSON."""
        if not self.rejected:
            return b"{}"
        field = {
            Signal.TRACES: "rejectedSpans",
            Signal.METRICS: "rejectedDataPoints",
            Signal.LOGS: "rejectedLogRecords",
        }[self.signal]
        return json.dumps(
            {"partialSuccess": {field: str(self.rejected), "errorMessage": self.message}}
        ).encode()


def _response(
    result: ExportResult,
) -> ExportTraceServiceResponse | ExportMetricsServiceResponse | ExportLogsServiceResponse:
    if result.signal is Signal.TRACES:
        trace = ExportTraceServiceResponse()
        if result.rejected:
            trace.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=result.rejected, error_message=result.message
                )
            )
        return trace
    if result.signal is Signal.METRICS:
        metrics = ExportMetricsServiceResponse()
        if result.rejected:
            metrics.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(
                    rejected_data_points=result.rejected, error_message=result.message
                )
            )
        return metrics
    logs = ExportLogsServiceResponse()
    if result.rejected:
        logs.partial_success.CopyFrom(
            ExportLogsPartialSuccess(
                rejected_log_records=result.rejected, error_message=result.message
            )
        )
    return logs


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """Counters since start, for the header's ingest rate and ``serve``'s summary."""

    requests: int
    items: int
    spans: int
    log_events: int
    metric_points: int
    rejected_items: int
    failed_requests: int


Recorder = Callable[[Signal, Encoding, bytes], None]


class Receiver:
    """Decodes export requests and writes them through a :class:`Sink`.

    Thread-safe: the listeners call :meth:`export` from many threads at once. ``decode`` turns a
    body into the batch to write: a :class:`~otelwatch.ingest.decoding.Decoding` in this thread,
    or a :class:`~otelwatch.ingest.decode_pool.DecodePool` in decoder processes. ``recorder``,
    if given, is called with every request that was committed (for ``--record``).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        clock: Callable[[], int] = time.time_ns,
        recorder: Recorder | None = None,
        decode: Decode | None = None,
    ) -> None:
        self._sink = sink
        self._decode = decode if decode is not None else Decoding()
        self._clock = clock
        self._recorder = recorder
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._closing = False
        self._requests = 0
        self._spans = 0
        self._logs = 0
        self._points = 0
        self._rejected = 0
        self._failed = 0

    def export(self, signal: Signal, encoding: Encoding, body: bytes) -> ExportResult:
        """Decode ``body``, write it, and return once it is committed.

        Raises :class:`DecodeError` for a malformed body (nothing is stored) and passes on the
        sink's ``StoreFull``, ``StoreUnavailable`` and ``BatchRejected``.
        """
        with self._lock:
            if self._closing:
                raise StoreUnavailable("otelwatch is shutting down")
            self._in_flight += 1
        try:
            batch = self._decode(signal, encoding, body, self._clock())
            self._sink.write(batch)
            if self._recorder is not None:
                self._recorder(signal, encoding, body)
        except BaseException:
            with self._lock:
                self._failed += 1
            raise
        finally:
            with self._lock:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.notify_all()
        with self._lock:
            self._requests += 1
            self._spans += batch.span_count
            self._logs += batch.log_event_count
            self._points += len(batch.metric_points)
            self._rejected += batch.rejected
        return ExportResult(signal, batch.item_count, batch.rejected, batch.rejected_reason)

    def close(self, timeout: float = 30.0) -> bool:
        """Refuse new requests and wait for those in progress; ``False`` on time-out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stats(self) -> ReceiverStats:
        """A snapshot of the counters."""
        with self._lock:
            return ReceiverStats(
                requests=self._requests,
                items=self._spans + self._logs + self._points,
                spans=self._spans,
                log_events=self._logs,
                metric_points=self._points,
                rejected_items=self._rejected,
                failed_requests=self._failed,
            )
