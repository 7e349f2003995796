"""``google.rpc.Status`` bodies for error answers, encoded by hand.

OTLP/HTTP error responses carry a ``Status`` message, and a gRPC ``RESOURCE_EXHAUSTED`` is only
retryable by a conforming exporter when its status details hold a ``RetryInfo``. The messages are
three small fixed shapes, so they are encoded here rather than pulling in googleapis' protos.
"""

from __future__ import annotations

import json

RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _retry_info(delay_s: int) -> bytes:
    # RetryInfo { google.protobuf.Duration retry_delay = 1; } Duration { int64 seconds = 1; }
    duration = _varint(1 << 3) + _varint(delay_s)
    return _field(1, duration)


def status_proto(code: int, message: str, retry_after_s: int | None = None) -> bytes:
    """A serialized ``google.rpc.Status``, with a ``RetryInfo`` detail when a delay is given."""
    out = _varint(1 << 3) + _varint(code) if code else b""
    if message:
        out += _field(2, message.encode("utf-8", "replace"))
    if retry_after_s is not None:
        detail = _field(1, RETRY_INFO_TYPE.encode()) + _field(2, _retry_info(retry_after_s))
        out += _field(3, detail)
    return out


def status_json(code: int, message: str, retry_after_s: int | None = None) -> bytes:
    """The same ``Status`` in proto3 JSON."""
    status: dict[str, object] = {"code": code, "message": message}
    if retry_after_s is not None:
        status["details"] = [{"@type": RETRY_INFO_TYPE, "retryDelay": f"{retry_after_s}s"}]
    return json.dumps(status).encode()
