"""From a request body to the batch the writer takes: decode, then the per-item steps.

One :class:`Decoding` holds everything this takes (the per-item limits, ``--redact``), so it can
run in the receiving thread or, sent once to each, in decoder processes
(:mod:`otelwatch.ingest.decode_pool`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from otelwatch.ingest import otlp_json, otlp_proto
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.store.rows import RowBatch

log = logging.getLogger(__name__)

DecodeFunction = Callable[[bytes, int], RowBatch]

DECODERS: dict[tuple[Signal, Encoding], DecodeFunction] = {
    (Signal.TRACES, Encoding.PROTOBUF): otlp_proto.decode_traces,
    (Signal.METRICS, Encoding.PROTOBUF): otlp_proto.decode_metrics,
    (Signal.LOGS, Encoding.PROTOBUF): otlp_proto.decode_logs,
    (Signal.TRACES, Encoding.JSON): otlp_json.decode_traces,
    (Signal.METRICS, Encoding.JSON): otlp_json.decode_metrics,
    (Signal.LOGS, Encoding.JSON): otlp_json.decode_logs,
}

Decode = Callable[[Signal, Encoding, bytes, int], RowBatch]
"""Signal, encoding, body and receive time in; the batch to write out. Raises DecodeError."""


class Decoding:
    """Decodes one request and runs ``prepare`` (limits, redaction) on the batch.

    Any failure is a :class:`DecodeError`: a decoder bug costs one request, never the listener.
    Picklable when ``prepare`` is, so that decoder processes can be given one.
    """

    def __init__(self, prepare: Callable[[RowBatch], None] | None = None) -> None:
        self.prepare = prepare

    def __call__(
        self, signal: Signal, encoding: Encoding, body: bytes, received_ns: int
    ) -> RowBatch:
        """The batch of one request."""
        try:
            batch = DECODERS[(signal, encoding)](body, received_ns)
            if self.prepare is not None:
                self.prepare(batch)
            return batch
        except DecodeError:
            raise
        except RecursionError:
            raise DecodeError("the request is nested too deeply") from None
        except Exception as exc:
            log.exception("could not decode a %s %s request", encoding, signal)
            raise DecodeError(f"could not decode the request: {type(exc).__name__}") from None
