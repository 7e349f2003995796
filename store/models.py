"""Frozen results of the Reader's named queries: what the UI and the CLI receive."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TableCounts:
    """How many rows each table holds."""

    spans: int
    log_events: int
    metric_points: int
    resources: int

    @property
    def items(self) -> int:
        """Spans, log events and metric points together."""
        return self.spans + self.log_events + self.metric_points
