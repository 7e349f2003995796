"""OTLP request classes that hand over span and log attributes as raw bytes.

Reading attributes is most of the cost of ingest: for each ``KeyValue`` the protobuf runtime
builds a Python wrapper object, and flattening and JSON-encoding its value costs more again.
These classes are the OTLP messages with one change: ``Span.attributes`` and
``LogRecord.attributes`` are declared ``repeated bytes`` instead of ``repeated KeyValue`` (and
``Span.events``, ``links`` and ``status`` are bytes too). An embedded message and a bytes field
share one wire encoding, so each attribute arrives as its own serialized ``KeyValue``: the key of
:class:`~otelwatch.ingest.attributes.FragmentCache`, where an attribute seen before costs one
dictionary lookup and no wrapper is ever made for it. Every other field, and every message these
refer to (``Resource``, ``InstrumentationScope``), is the real OTLP type. The classes parse exactly
the bytes the real requests do; tests check that decoding through them gives the same rows.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

_PACKAGE = "otelwatch.wire"
_FILE = "otelwatch/ingest/wire.proto"


def _copy(
    original: Descriptor, name: str, retarget: dict[str, str], raw: frozenset[str] = frozenset()
) -> descriptor_pb2.DescriptorProto:
    """``original`` renamed, with references retargeted and the fields in ``raw`` made bytes."""
    proto = descriptor_pb2.DescriptorProto()
    original.CopyToProto(proto)
    proto.name = name
    for field in proto.field:
        if field.name in raw:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            field.ClearField("type_name")
        elif field.type_name in retarget:
            field.type_name = retarget[field.type_name]
    return proto


def _build() -> tuple[Any, Any]:
    pool = descriptor_pool.Default()
    file = descriptor_pb2.FileDescriptorProto(name=_FILE, package=_PACKAGE, syntax="proto3")
    file.dependency.extend([trace_pb2.DESCRIPTOR.name, logs_pb2.DESCRIPTOR.name])

    def chain(
        request: Descriptor,
        resource: Descriptor,
        scope: Descriptor,
        item: Descriptor,
        kind: str,
        raw: frozenset[str],
    ) -> None:
        names = {
            request.full_name: f"{kind}Request",
            resource.full_name: f"{kind}Resource",
            scope.full_name: f"{kind}Scope",
            item.full_name: f"{kind}Item",
        }
        retarget = {f".{old}": f".{_PACKAGE}.{new}" for old, new in names.items()}
        file.message_type.extend(
            [
                _copy(request, names[request.full_name], retarget),
                _copy(resource, names[resource.full_name], retarget),
                _copy(scope, names[scope.full_name], retarget),
                _copy(item, names[item.full_name], retarget, raw),
            ]
        )

    chain(
        trace_service_pb2.ExportTraceServiceRequest.DESCRIPTOR,
        trace_pb2.ResourceSpans.DESCRIPTOR,
        trace_pb2.ScopeSpans.DESCRIPTOR,
        trace_pb2.Span.DESCRIPTOR,
        "Trace",
        # Events, links and status are absent or empty on most spans: as bytes they cost nothing
        # then, and are parsed with their real types when present.
        frozenset({"attributes", "events", "links", "status"}),
    )
    chain(
        logs_service_pb2.ExportLogsServiceRequest.DESCRIPTOR,
        logs_pb2.ResourceLogs.DESCRIPTOR,
        logs_pb2.ScopeLogs.DESCRIPTOR,
        logs_pb2.LogRecord.DESCRIPTOR,
        "Logs",
        frozenset({"attributes"}),
    )
    try:
        pool.FindFileByName(_FILE)
    except KeyError:
        pool.AddSerializedFile(file.SerializeToString())
    traces = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.TraceRequest"))
    logs = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.LogsRequest"))
    return traces, logs


# ExportTraceServiceRequest and ExportLogsServiceRequest, with attribute lists as raw bytes.
TraceRequest, LogsRequest = _build()
