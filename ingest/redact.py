"""``--redact``: content attributes removed (or hashed) before anything reaches the database.

Claude Code sends the text of prompts, responses, tool arguments and tool output only when the
user turns it on (``OTEL_LOG_USER_PROMPTS``, ``OTEL_LOG_TOOL_DETAILS``, ...). Someone who wants
those switches on for one tool but not kept on disk by otelwatch names categories to redact:

=============  ===============================================================================
category       attribute keys (on spans, span events and log events)
=============  ===============================================================================
prompts        prompt, prompt_text, user_prompt, system_prompt, system_prompt_preview,
               user_system_prompt, gen_ai.prompt, gen_ai.input.messages,
               gen_ai.system_instructions
responses      response, response.model_output, gen_ai.completion, gen_ai.output.messages
tool-input     tool_parameters, tool_input, full_command, bash_command, file_path, new_context
tool-output    content, diff, output, error (the ``tool.output`` span event, raw tool errors)
api-bodies     body, body_ref (``api_request_body`` / ``api_response_body`` events)
all            every category above
=============  ===============================================================================

In ``drop`` mode the attribute is removed; in ``hash`` mode its value becomes
``sha256:<16 hex digits>`` of its JSON text, so equal values can still be matched up (a short,
guessable value can be found again by hashing guesses: prefer ``drop`` for those). Either way the
item gets ``otelwatch.redacted``, the list of keys that were redacted, so a missing prompt is
never mistaken for an empty one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from otelwatch.ingest.attributes import to_json
from otelwatch.store.rows import LOG_EVENT_COLUMNS, SPAN_COLUMNS, RowBatch

CATEGORIES: dict[str, frozenset[str]] = {
    "prompts": frozenset(
        {
            "prompt",
            "prompt_text",
            "user_prompt",
            "system_prompt",
            "system_prompt_preview",
            "user_system_prompt",
            "gen_ai.prompt",
            "gen_ai.input.messages",
            "gen_ai.system_instructions",
        }
    ),
    "responses": frozenset(
        {"response", "response.model_output", "gen_ai.completion", "gen_ai.output.messages"}
    ),
    "tool-input": frozenset(
        {
            "tool_parameters",
            "tool_input",
            "full_command",
            "bash_command",
            "file_path",
            "new_context",
        }
    ),
    "tool-output": frozenset({"content", "diff", "output", "error"}),
    "api-bodies": frozenset({"body", "body_ref"}),
}
REDACTED = "otelwatch.redacted"
Mode = Literal["drop", "hash"]

_SPAN_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_SPAN_EVENTS = SPAN_COLUMNS.index("events")
_LOG_ATTRIBUTES = LOG_EVENT_COLUMNS.index("attributes")


class InvalidRedaction(ValueError):
    """An unknown category in ``--redact``."""


@dataclass(frozen=True, slots=True)
class Redaction:
    """The keys to redact, and how."""

    categories: tuple[str, ...]
    keys: frozenset[str]
    mode: Mode = "drop"

    def describe(self) -> str:
        """``prompts, tool-input (dropped)``."""
        verb = "dropped" if self.mode == "drop" else "hashed"
        return f"{', '.join(self.categories)} ({verb})"


def parse(spec: str, mode: Mode = "drop") -> Redaction:
    """``prompts,tool-input`` into a :class:`Redaction`; ``all`` names every category."""
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    if not names:
        raise InvalidRedaction("name at least one category to redact")
    if "all" in names:
        names = list(CATEGORIES)
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown:
        raise InvalidRedaction(
            f"unknown redaction categor{'ies' if len(unknown) > 1 else 'y'} "
            f"{', '.join(map(repr, unknown))}; choose from {', '.join(CATEGORIES)} or all"
        )
    ordered = tuple(name for name in CATEGORIES if name in names)
    keys = frozenset().union(*(CATEGORIES[name] for name in ordered))
    return Redaction(ordered, keys, mode)


class Redactor:
    """Applies a :class:`Redaction` to decoded batches (the step :func:`apply` runs)."""

    def __init__(self, redaction: Redaction) -> None:
        self.redaction = redaction
        # A key is only ever followed by '":' in the compact JSON text: a search finds the rows
        # that need parsing, and most rows are left untouched at the cost of one regex scan.
        alternatives = "|".join(re.escape(json.dumps(key)[1:-1]) for key in sorted(redaction.keys))
        self._probe = re.compile(f'"(?:{alternatives})":')

    def __call__(self, batch: RowBatch) -> None:
        """Redact ``batch`` in place."""
        probe = self._probe.search
        spans: list[Any] = batch.spans
        for i in range(len(spans)):
            row = spans[i]
            attributes, events = row[_SPAN_ATTRIBUTES], row[_SPAN_EVENTS]
            changes = {}
            if probe(attributes):
                changes[_SPAN_ATTRIBUTES] = self._text(attributes)
            if events is not None and probe(events):
                changes[_SPAN_EVENTS] = self._events(events)
            if changes:
                spans[i] = _replace(row, changes)
        logs: list[Any] = batch.log_events
        for i in range(len(logs)):
            attributes = logs[i][_LOG_ATTRIBUTES]
            if probe(attributes):
                logs[i] = _replace(logs[i], {_LOG_ATTRIBUTES: self._text(attributes)})

    def _text(self, text: str) -> str:
        attributes = json.loads(text)
        if not isinstance(attributes, dict):
            return text
        return to_json(self._attributes(attributes))

    def _attributes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        keys = self.redaction.keys
        hit = [key for key in attributes if key in keys]
        if not hit:
            return attributes
        out: dict[str, Any] = {}
        for key, value in attributes.items():
            if key not in keys:
                out[key] = value
            elif self.redaction.mode == "hash":
                digest = hashlib.sha256(to_json(value).encode("utf-8", "surrogatepass"))
                out[key] = "sha256:" + digest.hexdigest()[:16]
        out[REDACTED] = hit
        return out

    def _events(self, text: str) -> str:
        events = json.loads(text)
        if not isinstance(events, list):
            return text
        for event in events:
            if isinstance(event, dict) and isinstance(event.get("attributes"), dict):
                event["attributes"] = self._attributes(event["attributes"])
        return to_json(events)


def _replace(row: tuple[Any, ...], changes: dict[int, Any]) -> tuple[Any, ...]:
    fields = list(row)
    for index, value in changes.items():
        fields[index] = value
    return tuple(fields)
