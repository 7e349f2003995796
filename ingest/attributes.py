"""OTLP attribute values, from protobuf or OTLP/JSON, into plain Python values and JSON text.

Values keep their OTLP type: strings stay strings, ``intValue`` becomes ``int``, ``doubleValue``
``float``, arrays lists and key-value lists dicts. Bytes become base64 text, as OTLP/JSON writes
them. Non-finite doubles become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, since
JSON has no spelling for them.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otelwatch.ingest.errors import DecodeError

# Nesting beyond this is refused: real senders nest two or three levels, and unbounded recursion
# is a way to crash a Python receiver.
MAX_DEPTH = 32

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_dumps_sorted = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True
).encode


def _finite(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


# ------------------------------------------------------------------ protobuf


def proto_value(value: AnyValue, depth: int = 0) -> Any:
    """One protobuf ``AnyValue`` as a Python value (``None`` when empty)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return _finite(value.double_value)
    if kind is None:
        return None
    if depth >= MAX_DEPTH:
        raise DecodeError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if kind == "array_value":
        return [proto_value(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: proto_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def proto_attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """A repeated ``KeyValue`` field as a dict; a repeated key keeps its last value."""
    out: dict[str, Any] = {}
    for kv in pairs:
        value = kv.value
        kind = value.WhichOneof("value")
        # The scalar cases inline: this loop is the hottest code in ingest.
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        else:
            out[kv.key] = proto_value(value)
    return out


class FragmentCache:
    """Encodes serialized ``KeyValue`` lists straight to JSON text, remembering each distinct pair.

    Most attributes repeat: every span of a session carries the same ``user.id``, ``session.id``,
    ``terminal.type``…, and span types, models and tool names come from small sets. Keyed by the
    pair's serialized bytes (as :mod:`otelwatch.ingest.wire` delivers them), a hit skips parsing,
    flattening and encoding; the JSON is a join of ready-made ``"key":value`` fragments. The
    output is the text ``to_json(proto_attributes(pairs))`` gives for the parsed pairs, a repeated
    key keeping its last value.

    Shared by the listener threads: dict reads and writes are atomic, and a cache cleared under a
    reader only costs that reader some misses. Memory is bounded by clearing at ``capacity``.
    """

    __slots__ = ("_cache", "_capacity", "_wanted")

    def __init__(self, wanted: frozenset[str], capacity: int = 20_000) -> None:
        # Entries: raw pair -> (key, "key":value fragment, value if the key is wanted else _SKIP).
        self._cache: dict[bytes, tuple[str, str, Any]] = {}
        self._capacity = capacity
        self._wanted = wanted

    def encode(self, pairs: Iterable[bytes]) -> tuple[str, dict[str, Any]]:
        """The JSON object text of serialized ``pairs``, and the values of the wanted keys.

        Raises :class:`DecodeError` when a pair is not a valid ``KeyValue``.
        """
        cache = self._cache
        fragments: dict[str, str] = {}
        found: dict[str, Any] = {}
        for raw in pairs:
            try:
                key, fragment, value = cache[raw]
            except KeyError:
                key, fragment, value = self._learn(raw)
            fragments[key] = fragment
            if value is not _SKIP:
                found[key] = value
        return "{" + ",".join(fragments.values()) + "}", found

    def _learn(self, raw: bytes) -> tuple[str, str, Any]:
        # About a third of Claude Code's attributes are unique (ids, durations, token counts),
        # so this path is hot too: keys are few and their fragments memoized, scalars encoded
        # directly.
        try:
            kv = KeyValue.FromString(raw)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"an attribute is not a valid KeyValue: {exc}") from None
        key = kv.key
        value = proto_value(kv.value)
        entry = (key, _fragment(key, value), value if key in self._wanted else _SKIP)
        if len(self._cache) >= self._capacity:
            self._cache.clear()
        self._cache[raw] = entry
        return entry


# Marks a cached pair whose value the caller does not want back.
_SKIP = object()
# '"key":' for each attribute key seen; there are few distinct keys.
_KEY_FRAGMENTS: dict[str, str] = {}


def _fragment(key: str, value: Any) -> str:
    """``"key":value`` as JSON, the scalars encoded directly (this runs for every new pair)."""
    prefix = _KEY_FRAGMENTS.get(key)
    if prefix is None:
        prefix = _KEY_FRAGMENTS[key] = encode_basestring(key) + ":"
        if len(_KEY_FRAGMENTS) > 10_000:
            _KEY_FRAGMENTS.clear()
    kind = type(value)
    if kind is str:
        return prefix + encode_basestring(value)
    if kind is bool:
        return prefix + ("true" if value else "false")
    if kind is int:
        return prefix + int.__repr__(value)
    return prefix + to_json(value)


# ------------------------------------------------------------------ OTLP/JSON


def json_value(value: Any, depth: int = 0) -> Any:
    """One OTLP/JSON ``AnyValue`` object as a Python value.

    Accepts what OTLP/JSON allows: ``intValue`` as a number or a decimal string, ``doubleValue`` as
    a number or ``"NaN"``/``"Infinity"``, bytes as base64. Anything else is a :class:`DecodeError`.
    """
    if not isinstance(value, dict):
        if value is None:
            return None
        raise DecodeError("an attribute value must be an AnyValue object")
    if not value:
        return None
    if len(value) != 1:
        raise DecodeError("an AnyValue must have exactly one field")
    ((kind, raw),) = value.items()
    if kind == "stringValue":
        if not isinstance(raw, str):
            raise DecodeError("stringValue must be a string")
        return raw
    if kind == "intValue":
        return json_int(raw, "intValue")
    if kind == "boolValue":
        if not isinstance(raw, bool):
            raise DecodeError("boolValue must be true or false")
        return raw
    if kind == "doubleValue":
        return _finite(json_float(raw, "doubleValue"))
    if depth >= MAX_DEPTH:
        raise DecodeError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if kind == "arrayValue":
        items = _json_list(raw, "arrayValue", "values")
        return [json_value(v, depth + 1) for v in items]
    if kind == "kvlistValue":
        pairs = _json_list(raw, "kvlistValue", "values")
        return json_attributes(pairs, depth + 1)
    if kind == "bytesValue":
        if not isinstance(raw, str):
            raise DecodeError("bytesValue must be a base64 string")
        return raw
    raise DecodeError(f"unknown AnyValue field {kind!r}")


def json_attributes(pairs: Any, depth: int = 0) -> dict[str, Any]:
    """An OTLP/JSON ``attributes`` list as a dict."""
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise DecodeError("attributes must be a list")
    out: dict[str, Any] = {}
    for kv in pairs:
        if not isinstance(kv, dict):
            raise DecodeError("an attribute must be an object with key and value")
        key = kv.get("key", "")  # omitted when empty, as proto3 JSON printers do
        if not isinstance(key, str):
            raise DecodeError("an attribute key must be a string")
        value = kv.get("value")
        # Fast path for the common scalar shapes before the general one.
        if type(value) is dict and len(value) == 1:
            raw = value.get("stringValue")
            if type(raw) is str:
                out[key] = raw
                continue
        out[key] = json_value(value, depth)
    return out


class JsonFragmentCache:
    """:class:`FragmentCache` for OTLP/JSON attribute lists.

    Scalar pairs are remembered by ``(key, kind, raw value)``, so a repeated attribute skips
    validation and encoding. Arrays and key-value lists are not cached. Same output as
    ``to_json(json_attributes(pairs))``, and the same errors for malformed input.
    """

    __slots__ = ("_cache", "_capacity", "_wanted")

    def __init__(self, wanted: frozenset[str], capacity: int = 20_000) -> None:
        self._cache: dict[tuple[str, str, Any], tuple[str, Any]] = {}
        self._capacity = capacity
        self._wanted = wanted

    def encode(self, pairs: Any) -> tuple[str, dict[str, Any]]:
        """The JSON object text of an OTLP/JSON ``attributes`` list, and the wanted values."""
        if pairs is None:
            return "{}", {}
        if type(pairs) is not list:
            raise DecodeError("attributes must be a list")
        cache = self._cache
        fragments: dict[str, str] = {}
        found: dict[str, Any] = {}
        for kv in pairs:
            if type(kv) is not dict:
                raise DecodeError("an attribute must be an object with key and value")
            key = kv.get("key", "")
            if type(key) is not str:
                raise DecodeError("an attribute key must be a string")
            value = kv.get("value")
            entry = None
            cache_key = None
            if type(value) is dict and len(value) == 1:
                ((kind, raw),) = value.items()
                if type(raw) in _SCALARS:
                    cache_key = (key, kind, raw)
                    entry = cache.get(cache_key)
            if entry is None:
                decoded = json_value(value)
                entry = (_fragment(key, decoded), decoded if key in self._wanted else _SKIP)
                if cache_key is not None:
                    if len(cache) >= self._capacity:
                        cache.clear()
                    cache[cache_key] = entry
            fragments[key] = entry[0]
            if entry[1] is not _SKIP:
                found[key] = entry[1]
        return "{" + ",".join(fragments.values()) + "}", found


_SCALARS = frozenset({str, int, float, bool})


def _json_list(raw: Any, name: str, field: str) -> list[Any]:
    if not isinstance(raw, dict):
        raise DecodeError(f"{name} must be an object")
    items = raw.get(field, [])
    if not isinstance(items, list):
        raise DecodeError(f"{name}.{field} must be a list")
    return items


def json_int(raw: Any, name: str) -> int:
    """An OTLP/JSON 64-bit integer: a JSON number or a decimal string."""
    if type(raw) is int:
        return raw
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            raise DecodeError(f"{name} must be an integer, got {raw[:40]!r}") from None
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise DecodeError(f"{name} must be an integer")


def json_float(raw: Any, name: str) -> float:
    """An OTLP/JSON double: a number, or one of the strings ``NaN``, ``Infinity``, ``-Infinity``."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            raise DecodeError(f"{name} must be a number, got {raw[:40]!r}") from None
    raise DecodeError(f"{name} must be a number")


# ------------------------------------------------------------------ JSON text


def to_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text for a value built by this module."""
    try:
        return _dumps_sorted(value) if sort_keys else _dumps(value)
    except ValueError:
        # Only non-finite floats inside nested values reach here (the top level is handled
        # as values are converted); replace them and encode again.
        return to_json(_replace_non_finite(value), sort_keys=sort_keys)


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, list):
        return [_replace_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _replace_non_finite(v) for k, v in value.items()}
    return value


def scrub_surrogates(value: Any) -> Any:
    """Replace lone UTF-16 surrogates (which JSON text may encode but UTF-8 cannot) with U+FFFD."""
    if isinstance(value, str):
        # UTF-16 with surrogatepass keeps valid pairs and lets "replace" mark the lone ones.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [scrub_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {scrub_surrogates(k): scrub_surrogates(v) for k, v in value.items()}
    return value
