"""The critical path of a trace, and where its time went.

The critical path is the chain of work that the trace's end waited for: shorten anything off it
and the trace ends no sooner. It is computed as Jaeger does (jaeger-ui ``CriticalPath``): start at
the end of the root and walk back in time. At each span, take the child that finished last
before the current point (the *last finishing child*); the span's own time between that child's
end and the current point is on the path; then continue inside that child from its end. When a
span has no child left that finished before the current point, the path covers the span from its
start, and the walk goes back up to the parent at the span's start.

One refinement for overlapping siblings, needed by Claude Code's own traces: a tool call starts
while the model's response that asked for it is still streaming, so the ``tool`` span starts
before its ``llm_request`` sibling ends, and a strict last-finishing-child walk would give the
model's time to the parent. So when the walk comes back to a parent at the start of child B, a
child A that was still running then, and started after the last child to finish before that
point, is taken as B's predecessor (the path covers A up to B's start) if B followed it: A
ended before B did, or A is a model call (a model asks for several tools while it streams, and
a quick one can finish before the stream does). Otherwise a sibling running in parallel that
outlasted B is not taken, as in Jaeger.

Before the walk, children are clipped to their parent's interval (a child that starts before its
parent or ends after it only counts inside it) and a child entirely outside its parent is left
out with its subtree, as Jaeger does. One thing differs from Jaeger: a child that ends exactly
when the current point is counts as finished before it (Jaeger requires strictly before, which
gives the parent the time of back-to-back children); each child is taken at most once, so the
walk always ends.

Orphans (spans whose parent has not arrived) belong somewhere inside the trace: when the trace
has one root, they are taken as its children. A trace whose root has not arrived, or that has
several roots, is walked under a virtual root that spans them all; its own sections (gaps no span
covers) belong to no span.

The sections tile the root's interval exactly, so they add up to the trace's duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from otelwatch.tui.trace_tree import S, TraceTree

Category = Literal["model", "tool", "user", "other"]
CATEGORIES: tuple[Category, ...] = ("model", "tool", "user", "other")

# Claude Code's span types (attribute ``span.type``), or the end of the span name for a sender
# that names its spans the same way without the attribute.
_KINDS: dict[str, Category] = {
    "llm_request": "model",
    "tool.execution": "tool",
    "tool.blocked_on_user": "user",
}

VIRTUAL_ROOT = -1


class Section(NamedTuple):
    """A stretch of the critical path spent in one span's own time (``pos``: its position in
    the tree, or :data:`VIRTUAL_ROOT` for time no span covers)."""

    pos: int
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        """Length of the section."""
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The critical path of a trace: its sections in time order, and their sum per category."""

    sections: tuple[Section, ...]
    by_category: dict[Category, int]
    """Nanoseconds of the path spent in model calls, tool execution, waiting for the user, and
    everything else."""
    total_ns: int

    def positions(self) -> frozenset[int]:
        """Positions of the spans with time on the path."""
        return frozenset(s.pos for s in self.sections if s.pos != VIRTUAL_ROOT)

    def sections_of(self) -> dict[int, list[tuple[int, int]]]:
        """Each span's stretches on the path, as (start, end) pairs."""
        out: dict[int, list[tuple[int, int]]] = {}
        for section in self.sections:
            if section.pos != VIRTUAL_ROOT:
                out.setdefault(section.pos, []).append((section.start_ns, section.end_ns))
        return out


def category(span_type: str | None, name: str) -> Category:
    """Which kind of time a span's own time is."""
    if span_type:
        return _KINDS.get(span_type, "other")
    for suffix, kind in _KINDS.items():
        if name == suffix or name.endswith("." + suffix):
            return kind
    return "other"


def critical_path(tree: TraceTree[S], categories: list[Category] | None = None) -> CriticalPath:
    """The critical path of ``tree``; ``categories`` gives each position's category (all
    ``other`` when omitted)."""
    count = len(tree)
    if count == 0:
        return CriticalPath((), dict.fromkeys(CATEGORIES, 0), 0)
    # Plain lists indexed by tree position, the virtual root last: a 10,000-span trace is
    # walked in a few milliseconds.
    root = count
    parent = _adopted(tree)
    start, end, keep = _clipped(tree, parent)
    parent = [root if p == VIRTUAL_ROOT else p for p in parent] + [-1]
    kids: list[list[int]] = [[] for _ in range(count + 1)]
    for pos in range(count):
        if keep[pos]:
            kids[parent[pos]].append(pos)
    for members in kids:
        if len(members) > 1:
            # Latest end first; among equal ends, the later start (sort is stable).
            members.sort(key=start.__getitem__, reverse=True)
            members.sort(key=end.__getitem__, reverse=True)
    tops = kids[root]
    root_start = min(start[p] for p in tops)
    root_end = max(end[p] for p in tops)
    start.append(root_start)
    end.append(root_end)
    taken = [0] * (count + 1)
    # Children passed over because they ended after the current point: candidates for a
    # streamed predecessor (see the module docstring).
    overlapping: list[list[int] | None] = [None] * (count + 1)
    model = None if categories is None else [kind == "model" for kind in categories] + [False]

    out_pos: list[int] = []
    out_start: list[int] = []
    out_end: list[int] = []
    node, point, came_from_end = root, root_end, root_end
    while True:
        members = kids[node]
        i = taken[node]
        # The walk only moves back in time, so a child that ended after the current point
        # can never be the last finishing child again: skip it for good.
        while i < len(members) and end[members[i]] > point:
            passed = overlapping[node]
            if passed is None:
                passed = overlapping[node] = []
            passed.append(members[i])
            i += 1
        taken[node] = i
        last = members[i] if i < len(members) else None
        child = None
        candidates = overlapping[node]
        if candidates:
            finished = None if last is None else end[last]
            child = _streamed_predecessor(
                candidates, start, end, point, came_from_end, finished, model
            )
        if child is None and last is not None:
            child = last
            taken[node] = i + 1
            if end[child] < point:
                out_pos.append(node)
                out_start.append(end[child])
                out_end.append(point)
            point = end[child]
        if child is not None:
            node = child
            continue
        if start[node] < point:
            out_pos.append(node)
            out_start.append(start[node])
            out_end.append(point)
        if node == root:
            break
        node, point, came_from_end = parent[node], start[node], end[node]
    by_category: dict[Category, int] = dict.fromkeys(CATEGORIES, 0)
    sections = []
    for k in range(len(out_pos) - 1, -1, -1):
        pos = VIRTUAL_ROOT if out_pos[k] == root else out_pos[k]
        sections.append(Section(pos, out_start[k], out_end[k]))
        kind: Category = "other"
        if pos != VIRTUAL_ROOT and categories is not None:
            kind = categories[pos]
        by_category[kind] += out_end[k] - out_start[k]
    return CriticalPath(tuple(sections), by_category, root_end - root_start)


def _streamed_predecessor(
    candidates: list[int],
    start: list[int],
    end: list[int],
    point: int,
    upto: int,
    finished: int | None,
    model: list[bool] | None,
) -> int | None:
    """Among the children passed over at a parent, the one that was still running at ``point``
    (where the walk came back from a child ending at ``upto``) and ended before ``upto`` or is a
    model call, and started after the last finishing child ended at ``finished`` (else that
    child came later in the chain): the latest to start is taken off the list and returned."""
    if not candidates:
        return None
    # Points only move back: a child starting at or after this one is never a candidate again.
    candidates[:] = [c for c in candidates if start[c] < point]
    best = None
    for c in candidates:
        followed = end[c] < upto or (model is not None and model[c])
        if not followed or (finished is not None and start[c] < finished):
            continue
        if best is None or start[c] > start[best]:
            best = c
    if best is not None:
        candidates.remove(best)
    return best


def _adopted(tree: TraceTree[S]) -> list[int]:
    """Each span's parent for the walk: the tree's, the root for orphans when there is one
    root, :data:`VIRTUAL_ROOT` for the other top-level spans."""
    tops = tree.top_level()
    roots = [p for p in tops if not tree.orphan[p]]
    adopter = roots[0] if len(roots) == 1 else VIRTUAL_ROOT
    parent = [p if p >= 0 else VIRTUAL_ROOT for p in tree.parent]
    for pos in tops:
        if tree.orphan[pos]:
            parent[pos] = adopter
    return parent


def _clipped(tree: TraceTree[S], parent: list[int]) -> tuple[list[int], list[int], list[bool]]:
    """Start and end of each span clipped to its parent's, and whether it is kept at all."""
    count = len(tree)
    start = [s.start_ns for s in tree.spans]
    end = [max(s.start_ns, s.end_ns) for s in tree.spans]
    keep = [True] * count
    # Pre-order puts every parent before its children, except an adopted orphan, which may
    # come before the root: the root is top-level, so its interval is already final.
    for pos in range(count):
        up = parent[pos]
        if up == VIRTUAL_ROOT:
            continue
        if not keep[up] or start[pos] >= end[up] or end[pos] <= start[up]:
            # Outside its parent (or under a span left out): not part of the parent's work.
            keep[pos] = False
            continue
        start[pos], end[pos] = max(start[pos], start[up]), min(end[pos], end[up])
    return start, end, keep
