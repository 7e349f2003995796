"""Protobuf export requests into OTLP/JSON, exactly as the OTLP specification writes it.

Used to record accepted requests in the OpenTelemetry Collector's file-exporter format (one
OTLP/JSON request per line) and by the load generator for OTLP/HTTP JSON.

OTLP/JSON is protobuf's canonical JSON mapping with three differences, and only the first needs
fixing after ``google.protobuf.json_format``:

- ``traceId``, ``spanId`` and ``parentSpanId`` are lower-case hex strings, not base64;
- keys are lowerCamelCase (``preserving_proto_field_name=False``, the default);
- enums are integers (``use_integers_for_enums=True``).

The canonical mapping already writes 64-bit integers as decimal strings, other bytes
(``bytesValue``) as base64, and non-finite doubles as ``"NaN"`` / ``"Infinity"``; fields at their
default value are left out, which OTLP/JSON receivers must accept.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

# The OTLP fields that are hex in OTLP/JSON: on spans and span links, log records and exemplars.
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})
# Subtrees that never hold one: skipping them halves the walk on attribute-heavy requests.
_NO_IDS = frozenset({"attributes", "filteredAttributes", "body", "resource", "scope"})

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def to_dict(request: Message) -> dict[str, Any]:
    """An ``Export{Trace,Metrics,Logs}ServiceRequest`` as an OTLP/JSON object."""
    document = json_format.MessageToDict(
        request, preserving_proto_field_name=False, use_integers_for_enums=True
    )
    _hex_ids(document)
    return document


def encode(request: Message) -> bytes:
    """An export request as OTLP/JSON bytes (compact UTF-8, no trailing newline)."""
    return _dumps(to_dict(request)).encode("utf-8")


def _hex_ids(node: Any) -> None:
    """Rewrite the base64 ids that ``json_format`` wrote as hex, in place.

    A generic walk rather than fixed paths, so every place OTLP puts ids (spans, links, log
    records, exemplars) is covered. Attribute keys are values (``{"key": "spanId"}``), never
    object keys, so telemetry content is never touched.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            elif key not in _NO_IDS and isinstance(value, dict | list):
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _hex_ids(item)
