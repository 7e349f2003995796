"""The fast attribute paths give exactly what the plain ones give, cold or warm."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otelwatch.ingest import otlp_proto, wire
from otelwatch.ingest.attributes import (
    FragmentCache,
    JsonFragmentCache,
    json_attributes,
    proto_attributes,
    to_json,
)
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.otlp_json_encode import encode
from otelwatch.simulator import build_request

WANTED = frozenset({"session.id", "model", "cost_usd", "success"})

keys = st.sampled_from(["session.id", "model", "cost_usd", "success", "k", "é", 'q"uote', ""])
scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _any_value(draw: Any, depth: int) -> AnyValue:
    value = AnyValue()
    kind = draw(
        st.sampled_from(["s", "i", "b", "d", "bytes", "empty"] + (["a", "kv"] if depth < 2 else []))
    )
    if kind == "s":
        value.string_value = draw(st.text(max_size=20))
    elif kind == "i":
        value.int_value = draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))
    elif kind == "b":
        value.bool_value = draw(st.booleans())
    elif kind == "d":
        value.double_value = draw(st.floats(allow_nan=True, allow_infinity=True))
    elif kind == "bytes":
        value.bytes_value = draw(st.binary(max_size=8))
    elif kind == "a":
        for _ in range(draw(st.integers(0, 3))):
            value.array_value.values.append(_any_value(draw, depth + 1))
    elif kind == "kv":
        for _ in range(draw(st.integers(0, 3))):
            value.kvlist_value.values.append(
                KeyValue(key=draw(keys), value=_any_value(draw, depth + 1))
            )
    return value


@st.composite
def key_values(draw: Any) -> list[KeyValue]:
    return [
        KeyValue(key=draw(keys), value=_any_value(draw, 0)) for _ in range(draw(st.integers(0, 8)))
    ]


def _same(a: str, b: str) -> bool:
    # NaN != NaN, so compare the parsed structures with NaN made comparable.
    return bool(json.loads(a, parse_constant=str) == json.loads(b, parse_constant=str)) and a == b


@settings(max_examples=300, deadline=None)
@given(key_values())
def test_fragment_cache_matches_the_plain_path(pairs: list[KeyValue]) -> None:
    cache = FragmentCache(WANTED, capacity=16)
    raws = [kv.SerializeToString() for kv in pairs]
    expected_dict = proto_attributes(pairs)
    expected = to_json(expected_dict)
    for _ in range(2):  # cold, then warm
        text, found = cache.encode(raws)
        assert _same(text, expected)
        wanted = {k: v for k, v in expected_dict.items() if k in WANTED}
        assert json.dumps(found, sort_keys=True) == json.dumps(wanted, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(key_values())
def test_json_fragment_cache_matches_the_plain_path(pairs: list[KeyValue]) -> None:
    # Printed as protobuf's JSON printer does: default (empty) fields are left out.
    as_json = [MessageToDict(kv) for kv in pairs]
    cache = JsonFragmentCache(WANTED, capacity=16)
    expected_dict = json_attributes(as_json)
    expected = to_json(expected_dict)
    for _ in range(2):
        text, found = cache.encode(as_json)
        assert _same(text, expected)
        wanted = {k: v for k, v in expected_dict.items() if k in WANTED}
        assert json.dumps(found, sort_keys=True) == json.dumps(wanted, sort_keys=True)


def test_wire_classes_decode_like_the_real_ones() -> None:
    """The raw-bytes wire classes and the real OTLP classes see the same request the same way."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    for seed in range(3):
        request = build_request("traces", 300, seed=seed)
        body = request.SerializeToString()
        real = ExportTraceServiceRequest.FromString(body)
        raw = wire.TraceRequest.FromString(body)
        real_spans = [s for rs in real.resource_spans for ss in rs.scope_spans for s in ss.spans]
        raw_spans = [s for rs in raw.resource_spans for ss in rs.scope_spans for s in ss.spans]
        assert len(raw_spans) == len(real_spans) == 300
        for a, b in zip(real_spans, raw_spans, strict=True):
            assert [kv.SerializeToString() for kv in a.attributes] == list(b.attributes)
            assert [e.SerializeToString() for e in a.events] == list(b.events)
            assert (a.name, a.span_id, a.start_time_unix_nano) == (
                b.name,
                b.span_id,
                b.start_time_unix_nano,
            )
        # And the protobuf decoder agrees with the OTLP/JSON one on the same request.
        from otelwatch.ingest import otlp_json

        assert (
            otlp_proto.decode_traces(body, 1).spans
            == otlp_json.decode_traces(encode(request), 1).spans
        )


def test_cache_is_bounded() -> None:
    cache = FragmentCache(WANTED, capacity=10)
    for i in range(100):
        cache.encode([KeyValue(key="k", value=AnyValue(int_value=i)).SerializeToString()])
    assert len(cache._cache) <= 10


def test_a_malformed_attribute_is_a_decode_error() -> None:
    cache = FragmentCache(WANTED)
    with pytest.raises(DecodeError, match="KeyValue"):
        cache.encode([b"\x0a\xff"])


def test_resources_decode_the_same_from_the_cache_with_each_requests_receive_time() -> None:
    """A resource seen before is looked up, not decoded again; the row keeps this request's
    receive time (the resource's first-seen time when it is new to the store)."""
    from otelwatch.ingest import normalize

    body = build_request("traces", 50, seed=7).SerializeToString()
    cold = otlp_proto.decode_traces(body, 1_000)
    warm = otlp_proto.decode_traces(body, 2_000)
    assert cold.resources.keys() == warm.resources.keys()
    for rid, row in warm.resources.items():
        assert row == (*cold.resources[rid][:3], 2_000)
    # The cached form equals decoding the attributes directly.
    request = wire.TraceRequest.FromString(body)
    for resource_spans in request.resource_spans:
        direct = normalize.resource(proto_attributes(resource_spans.resource.attributes), 2_000)
        assert warm.resources[direct.resource_id] == direct.row
    assert {s[4] for s in warm.spans} <= warm.resources.keys()
