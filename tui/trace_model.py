"""One trace made ready to draw: tree, labels, errors, kinds of time, critical path.

Built in a worker thread from the store's :class:`~otelwatch.store.queries.traces.Trace`, so the
UI thread only draws. Pure code: no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from otelwatch.tui.critical_path import Category, CriticalPath, category, critical_path
from otelwatch.tui.trace_tree import TraceTree, build_tree

if TYPE_CHECKING:
    from otelwatch.store.queries.traces import Trace, TraceSpan

# A span taking at least this share of the trace stands out (and says its share).
LARGE_SHARE = 0.2


@dataclass(frozen=True, slots=True, eq=False)
class TraceModel:
    """Everything the waterfall and the trace summary show of one trace."""

    trace: Trace
    tree: TraceTree[TraceSpan]
    labels: tuple[str, ...]
    """Each span's name without the prefix every name in the trace shares (``claude_code.``)."""
    details: tuple[str, ...]
    """A word on what the span did: its tool, its model."""
    errors: tuple[bool, ...]
    kinds: tuple[Category, ...]
    large: tuple[bool, ...]
    """The span takes a large share of the trace (and is not a top-level span)."""
    path: CriticalPath
    prefix: str
    """What was cut from the names."""

    @property
    def has_root(self) -> bool:
        """The trace's root span (a span without a parent) has arrived."""
        return any(span.parent_span_id is None for span in self.trace.spans)

    @property
    def orphans(self) -> int:
        """Spans whose parent has not arrived."""
        return sum(self.tree.orphan)

    @property
    def error_count(self) -> int:
        """Spans with status error."""
        return sum(self.errors)

    def share(self, pos: int) -> float:
        """The span's duration as a share of the trace's."""
        total = self.tree.duration_ns
        span = self.tree.spans[pos]
        return max(0, span.end_ns - span.start_ns) / total if total > 0 else 0.0


def common_prefix(names: list[str]) -> str:
    """The dotted prefix every name shares (``claude_code.``), if cutting it leaves every name
    something to show."""
    if not names:
        return ""
    # The common prefix of all names is the one of the first and last in sorted order.
    low, high = min(names), max(names)
    size = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low))
    prefix = low[:size]
    cut = prefix.rfind(".") + 1
    if cut == 0 or any(len(name) <= cut for name in names):
        return ""
    return prefix[:cut]


def build_model(trace: Trace) -> TraceModel:
    """Lay out ``trace`` for drawing and find its critical path."""
    tree = build_tree(trace.spans)
    spans = tree.spans
    prefix = common_prefix([s.name for s in spans])
    labels = tuple(s.name[len(prefix) :] for s in spans)
    details = tuple(s.tool_name or s.model or "" for s in spans)
    errors = tuple(s.status_code == "error" for s in spans)
    kinds = [category(s.span_type, s.name) for s in spans]
    total = tree.duration_ns
    large = tuple(
        tree.depth[p] > 0 and total > 0 and (s.end_ns - s.start_ns) / total >= LARGE_SHARE
        for p, s in enumerate(spans)
    )
    path = critical_path(tree, kinds)
    return TraceModel(
        trace=trace,
        tree=tree,
        labels=labels,
        details=details,
        errors=errors,
        kinds=tuple(kinds),
        large=large,
        path=path,
        prefix=prefix,
    )
