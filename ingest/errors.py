"""Errors raised while reading an export request; each maps to one OTLP status."""

from __future__ import annotations


class IngestError(Exception):
    """Base class: the request is refused and nothing of it is stored."""


class DecodeError(IngestError):
    """The body is not a valid request of the expected type (gRPC INVALID_ARGUMENT, HTTP 400)."""


class PayloadTooLarge(IngestError):
    """The body, compressed or decompressed, is over the size limit.

    HTTP 413; gRPC RESOURCE_EXHAUSTED (without RetryInfo, so it is not retried).
    """


class BindError(OSError):
    """A listener could not bind its address (in use, or not an address of this host)."""
