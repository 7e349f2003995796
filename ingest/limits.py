"""Limits on what one request may cost, shared by both listeners."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_request_bytes`` bounds a body both as received and after decompression."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
