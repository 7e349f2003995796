"""A trace's spans as a tree in display order, and which of its rows are visible.

Pure code (no Textual): the waterfall, the critical path and the tests share it.

The spans are laid out in pre-order (a parent, then its children by start time, each followed by
its own subtree), so a span's subtree is the contiguous run ``[i, i + size[i])``: collapsing a
span skips that run, and finding the visible rows is one pass with no recursion. That matters for
a 10,000-span trace, which may also be 10,000 levels deep.

Top-level rows are the spans without a parent, and the *orphans*: spans whose parent has not
arrived (children are often exported before their parent) or is not in the trace. A cycle of
parent ids (malformed input) is broken by making its earliest span an orphan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class SpanLike(Protocol):
    """What the tree needs of a span."""

    @property
    def span_id(self) -> str: ...
    @property
    def parent_span_id(self) -> str | None: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...


S = TypeVar("S", bound=SpanLike)


@dataclass(frozen=True, slots=True, eq=False)
class TraceTree(Generic[S]):
    """The spans of one trace in pre-order, with their links as positions in that order."""

    spans: tuple[S, ...]
    parent: tuple[int, ...]
    """Position of each span's parent, -1 at the top level."""
    depth: tuple[int, ...]
    size: tuple[int, ...]
    """Number of rows in each span's subtree, itself included."""
    orphan: tuple[bool, ...]
    """The span names a parent that is not in the trace."""
    last: tuple[bool, ...]
    """The span is its parent's last child (or the last top-level row)."""
    start_ns: int
    end_ns: int
    index: dict[str, int]
    """Position of each span id."""

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def duration_ns(self) -> int:
        """From the first start to the last end."""
        return max(0, self.end_ns - self.start_ns)

    def has_children(self, pos: int) -> bool:
        """Whether the span at ``pos`` has any child."""
        return self.size[pos] > 1

    def children(self, pos: int) -> list[int]:
        """Positions of the direct children of ``pos``, in order."""
        out, child, stop = [], pos + 1, pos + self.size[pos]
        while child < stop:
            out.append(child)
            child += self.size[child]
        return out

    def top_level(self) -> list[int]:
        """Positions of the top-level rows (roots and orphans), in order."""
        out, pos = [], 0
        while pos < len(self.spans):
            out.append(pos)
            pos += self.size[pos]
        return out

    def ancestors(self, pos: int) -> list[int]:
        """Positions of the ancestors of ``pos``, nearest first."""
        out = []
        pos = self.parent[pos]
        while pos >= 0:
            out.append(pos)
            pos = self.parent[pos]
        return out

    def visible(self, collapsed: Iterable[int] = ()) -> list[int]:
        """Positions of the rows shown when the spans at ``collapsed`` are folded."""
        folded = set(collapsed)
        if not folded:
            return list(range(len(self.spans)))
        out, pos, total = [], 0, len(self.spans)
        while pos < total:
            out.append(pos)
            pos += self.size[pos] if pos in folded else 1
        return out

    def position(self, span_id: str) -> int | None:
        """Where the span with ``span_id`` is, or ``None``."""
        return self.index.get(span_id)


def build_tree(spans: Sequence[S]) -> TraceTree[S]:
    """Lay ``spans`` out as a tree; a repeated span id keeps its first span."""
    first: dict[str, S] = {}
    for span in spans:
        first.setdefault(span.span_id, span)
    # Sorted once: children and top-level rows are then appended in display order.
    unique = sorted(first.values(), key=lambda s: (s.start_ns, s.end_ns, s.span_id))
    index = {span.span_id: i for i, span in enumerate(unique)}
    count = len(unique)
    children: list[list[int]] = [[] for _ in range(count)]
    tops: list[int] = []
    orphan = [False] * count
    for i, span in enumerate(unique):
        parent = index.get(span.parent_span_id) if span.parent_span_id else None
        if parent is None or parent == i:
            tops.append(i)
            orphan[i] = bool(span.parent_span_id)
        else:
            children[parent].append(i)

    order: list[int] = []
    parent_pos: list[int] = []
    depth: list[int] = []
    placed = [False] * count

    def walk(root: int) -> None:
        # Iterative pre-order: a deep chain must not hit the recursion limit.
        stack: list[tuple[int, int, int]] = [(root, -1, 0)]
        while stack:
            node, parent_at, level = stack.pop()
            if placed[node]:
                continue
            placed[node] = True
            here = len(order)
            order.append(node)
            parent_pos.append(parent_at)
            depth.append(level)
            stack.extend((kid, here, level + 1) for kid in reversed(children[node]))

    for top in tops:
        walk(top)
    earliest = 0
    while len(order) < count:
        # Spans only reachable through a cycle: the earliest becomes an orphan.
        while placed[earliest]:
            earliest += 1
        orphan[earliest] = True
        walk(earliest)

    size = [1] * count
    for pos in range(count - 1, -1, -1):
        if parent_pos[pos] >= 0:
            size[parent_pos[pos]] += size[pos]
    last = [False] * count
    for pos in range(count):
        up = parent_pos[pos]
        stop = up + size[up] if up >= 0 else count
        last[pos] = pos + size[pos] == stop
    laid = tuple(unique[i] for i in order)
    return TraceTree(
        spans=laid,
        parent=tuple(parent_pos),
        depth=tuple(depth),
        size=tuple(size),
        orphan=tuple(orphan[i] for i in order),
        last=tuple(last),
        start_ns=min((s.start_ns for s in laid), default=0),
        end_ns=max((s.end_ns for s in laid), default=0),
        index={span.span_id: pos for pos, span in enumerate(laid)},
    )
