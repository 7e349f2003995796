"""Limits on what one request, and one item in it, may cost; shared by both listeners.

A request is bounded in bytes, as received and after decompression (``max_request_bytes``). Each
item in it is bounded too, after decoding (:func:`enforce`): at most ``max_attributes`` attributes
(the first ones sent are kept) and values of at most ``max_value_chars`` characters (longer ones
are cut). The same bounds apply to span event attributes, the number of span events, span names,
status messages and log bodies. Nothing is cut silently: the item gets the attribute
``otelwatch.truncated`` (the keys whose values were cut, ``name``, ``status_message`` or ``body``
for those fields) and ``otelwatch.dropped_attributes`` / ``otelwatch.dropped_events`` (how many
were left out). docs/limits.md describes them for users.

The defaults let Claude Code's own output through untouched: it caps content at 61,440 UTF-16
units and sends a few dozen attributes per item.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otelwatch.ingest.attributes import to_json
from otelwatch.store.rows import LOG_EVENT_COLUMNS, METRIC_POINT_COLUMNS, SPAN_COLUMNS, RowBatch

DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ATTRIBUTES = 256
DEFAULT_MAX_VALUE_CHARS = 64 * 1024

TRUNCATED = "otelwatch.truncated"
DROPPED_ATTRIBUTES = "otelwatch.dropped_attributes"
DROPPED_EVENTS = "otelwatch.dropped_events"

# The shortest an attribute can be in compact JSON is 5 characters ('"":0,'), so a text shorter
# than this many characters per allowed attribute cannot hold too many of them.
_MIN_CHARS_PER_ATTRIBUTE = 4

_SPAN_NAME = SPAN_COLUMNS.index("name")
_SPAN_STATUS = SPAN_COLUMNS.index("status_message")
_SPAN_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_SPAN_EVENTS = SPAN_COLUMNS.index("events")
_LOG_BODY = LOG_EVENT_COLUMNS.index("body")
_LOG_ATTRIBUTES = LOG_EVENT_COLUMNS.index("attributes")
_POINT_ATTRIBUTES = METRIC_POINT_COLUMNS.index("attributes")


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_request_bytes`` bounds a body both as received and after decompression;
    ``max_attributes`` and ``max_value_chars`` bound each item (see :func:`enforce`)."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES
    max_value_chars: int = DEFAULT_MAX_VALUE_CHARS

    @property
    def in_flight_bytes(self) -> int:
        """Request bytes one listener holds at once (bodies being read, inflated or decoded)."""
        return IN_FLIGHT_REQUESTS * self.max_request_bytes


# Four largest requests at a time per listener: decoding costs about fifteen times the body in
# Python objects, so this bounds a burst of huge requests to about a gigabyte, while Claude
# Code's requests (kilobytes) never come near it.
IN_FLIGHT_REQUESTS = 4


class InFlight:
    """A byte budget for request bodies held at once; past it, requests are refused (retryable).

    An empty budget admits any request, so one request of the maximum size always gets through.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._used = 0
        self._lock = threading.Lock()

    def reserve(self, size: int) -> bool:
        """Take ``size`` bytes of the budget; ``False`` (and nothing taken) if they do not fit."""
        with self._lock:
            if self._used and self._used + size > self._capacity:
                return False
            self._used += size
            return True

    def release(self, size: int) -> None:
        """Give back ``size`` bytes."""
        with self._lock:
            self._used -= size

    @property
    def used(self) -> int:
        """Bytes held now."""
        return self._used


def enforce(batch: RowBatch, limits: Limits) -> None:
    """Bring every item of ``batch`` within the per-item limits, in place, marking what was cut.

    Cheap for items within the limits: an attribute text is parsed only when its length shows it
    could hold too many attributes or too long a value.
    """
    check = _Checker(limits)
    max_chars = limits.max_value_chars
    spans: list[Any] = batch.spans
    for i in range(len(spans)):
        row = spans[i]
        name, status = row[_SPAN_NAME], row[_SPAN_STATUS]
        attributes, events = row[_SPAN_ATTRIBUTES], row[_SPAN_EVENTS]
        if not (
            check.suspect(attributes)
            or (events is not None and check.suspect(events))
            or len(name) > max_chars
            or (status is not None and len(status) > max_chars)
        ):
            continue
        marks = _Marks()
        changes = {
            _SPAN_NAME: check.cut_text(name, "name", marks),
            _SPAN_STATUS: check.cut_text(status, "status_message", marks) if status else status,
            _SPAN_EVENTS: check.events(events, marks) if events is not None else None,
        }
        # Last: the attributes record what was cut from the other fields.
        changes[_SPAN_ATTRIBUTES] = check.attributes_text(attributes, marks)
        spans[i] = _replace(row, changes)
    logs: list[Any] = batch.log_events
    for i in range(len(logs)):
        row = logs[i]
        body, attributes = row[_LOG_BODY], row[_LOG_ATTRIBUTES]
        if not (check.suspect(attributes) or (body is not None and len(body) > max_chars)):
            continue
        marks = _Marks()
        new_body = check.cut_text(body, "body", marks) if body is not None else None
        new_attributes = check.attributes_text(attributes, marks)
        logs[i] = _replace(row, {_LOG_BODY: new_body, _LOG_ATTRIBUTES: new_attributes})
    points: list[Any] = batch.metric_points
    for i in range(len(points)):
        attributes = points[i][_POINT_ATTRIBUTES]
        if check.suspect(attributes):
            limited = check.attributes_text(attributes, _Marks())
            points[i] = _replace(points[i], {_POINT_ATTRIBUTES: limited})
    for rid, resource in list(batch.resources.items()):
        if check.suspect(resource[2]):
            limited = check.attributes_text(resource[2], _Marks())
            batch.resources[rid] = (resource[0], resource[1], limited, resource[3])


class Pipeline:
    """Steps run in order on each decoded batch. A class, not a closure, so that it can be sent
    to the decoder processes (:mod:`otelwatch.ingest.decode_pool`)."""

    def __init__(self, steps: list[Callable[[RowBatch], None]]) -> None:
        self.steps = steps

    def __call__(self, batch: RowBatch) -> None:
        for step in self.steps:
            step(batch)


def pipeline(*steps: Callable[[RowBatch], None] | None) -> Pipeline | None:
    """The given steps run in order on each decoded batch, or ``None`` if there are none."""
    active = [step for step in steps if step is not None]
    return Pipeline(active) if active else None


# ------------------------------------------------------------------ internals


class _Marks:
    """What was cut from one item, to be recorded in its attributes."""

    __slots__ = ("dropped_attributes", "dropped_events", "truncated")

    def __init__(self) -> None:
        self.truncated: list[str] = []
        self.dropped_attributes = 0
        self.dropped_events = 0


def _replace(row: tuple[Any, ...], changes: dict[int, Any]) -> tuple[Any, ...]:
    """``row`` with the values at some indexes replaced."""
    if all(row[index] is value for index, value in changes.items()):
        return row
    fields = list(row)
    for index, value in changes.items():
        fields[index] = value
    return tuple(fields)


class _Checker:
    def __init__(self, limits: Limits) -> None:
        self.max_attributes = limits.max_attributes
        self.max_chars = limits.max_value_chars
        self._count_threshold = limits.max_attributes * _MIN_CHARS_PER_ATTRIBUTE

    def suspect(self, text: str) -> bool:
        """Whether ``text`` (a JSON object or list) might break a limit."""
        n = len(text)
        if n > self.max_chars:
            return True
        # Every key is followed by '":'; a string value may contain it too, so this count can
        # only be too high, never too low.
        return n > self._count_threshold and text.count('":') > self.max_attributes

    def cut_text(self, text: str, label: str, marks: _Marks) -> str:
        if len(text) <= self.max_chars:
            return text
        marks.truncated.append(label)
        return text[: self.max_chars]

    def attributes_text(self, text: str, marks: _Marks) -> str:
        attributes = json.loads(text)
        if not isinstance(attributes, dict):
            return text
        limited = self.attributes(attributes, marks)
        if marks.truncated:
            limited[TRUNCATED] = marks.truncated
        if marks.dropped_attributes:
            limited[DROPPED_ATTRIBUTES] = marks.dropped_attributes
        if marks.dropped_events:
            limited[DROPPED_EVENTS] = marks.dropped_events
        if limited == attributes and not (marks.truncated or marks.dropped_events):
            return text
        return to_json(limited)

    def attributes(self, attributes: dict[str, Any], marks: _Marks) -> dict[str, Any]:
        if len(attributes) > self.max_attributes:
            marks.dropped_attributes += len(attributes) - self.max_attributes
            attributes = dict(list(attributes.items())[: self.max_attributes])
        out: dict[str, Any] = {}
        for key, value in attributes.items():
            kept = value
            if type(value) is str:
                if len(value) > self.max_chars:
                    kept = value[: self.max_chars]
                    marks.truncated.append(key)
            elif isinstance(value, list | dict):
                encoded = to_json(value)
                if len(encoded) > self.max_chars:
                    # Too big as a structure: kept as the start of its JSON text.
                    kept = encoded[: self.max_chars]
                    marks.truncated.append(key)
            out[key] = kept
        return out

    def events(self, text: str, marks: _Marks) -> str:
        if not self.suspect(text):
            return text
        events = json.loads(text)
        if not isinstance(events, list):
            return text
        if len(events) > self.max_attributes:
            marks.dropped_events += len(events) - self.max_attributes
            events = events[: self.max_attributes]
        for event in events:
            if not isinstance(event, dict):
                continue
            inner = _Marks()
            attributes = event.get("attributes")
            if isinstance(attributes, dict):
                event["attributes"] = self.attributes(attributes, inner)
            name = event.get("name")
            if isinstance(name, str):
                event["name"] = self.cut_text(name, "name", inner)
            if inner.truncated:
                event.setdefault("attributes", {})[TRUNCATED] = inner.truncated
            if inner.dropped_attributes:
                event.setdefault("attributes", {})[DROPPED_ATTRIBUTES] = inner.dropped_attributes
        return to_json(events)
