"""The names of what arrives: the three OTLP signals and the two body encodings."""

from __future__ import annotations

from enum import StrEnum


class Signal(StrEnum):
    """The three OTLP signals, named as in the HTTP paths (``/v1/<signal>``)."""

    TRACES = "traces"
    METRICS = "metrics"
    LOGS = "logs"


class Encoding(StrEnum):
    """How a request body is encoded."""

    PROTOBUF = "protobuf"
    JSON = "json"
