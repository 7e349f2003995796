"""The trace as a tree: display order, orphans, cycles, collapsing."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from otelwatch.tui.trace_tree import build_tree


@dataclass(frozen=True)
class S:
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int


def ids(tree: object, positions: list[int]) -> list[str]:
    return [tree.spans[p].span_id for p in positions]  # type: ignore[attr-defined]


def test_pre_order_with_children_by_start() -> None:
    tree = build_tree(
        [
            S("b", "r", 20, 30),
            S("r", None, 0, 100),
            S("a", "r", 10, 50),
            S("a1", "a", 11, 12),
        ]
    )
    assert [s.span_id for s in tree.spans] == ["r", "a", "a1", "b"]
    assert tree.depth == (0, 1, 2, 1)
    assert tree.parent == (-1, 0, 1, 0)
    assert tree.size == (4, 2, 1, 1)
    assert tree.last == (True, False, True, True)
    assert tree.children(0) == [1, 3]
    assert (tree.start_ns, tree.end_ns, tree.duration_ns) == (0, 100, 100)


def test_orphans_are_top_level_and_marked() -> None:
    tree = build_tree([S("c", "missing", 5, 6), S("r", None, 0, 10), S("d", "c", 5, 6)])
    assert [s.span_id for s in tree.spans] == ["r", "c", "d"]
    assert tree.orphan == (False, True, False)
    assert tree.top_level() == [0, 1]


def test_duplicate_span_ids_are_shown_once() -> None:
    tree = build_tree([S("r", None, 0, 10), S("r", None, 0, 10), S("a", "r", 1, 2)])
    assert len(tree) == 2


def test_collapsing_hides_the_subtree() -> None:
    tree = build_tree(
        [S("r", None, 0, 9), S("a", "r", 1, 5), S("a1", "a", 2, 3), S("b", "r", 6, 8)]
    )
    assert ids(tree, tree.visible()) == ["r", "a", "a1", "b"]
    assert ids(tree, tree.visible({1})) == ["r", "a", "b"]
    assert ids(tree, tree.visible({0})) == ["r"]
    assert tree.ancestors(2) == [1, 0]
    assert tree.position("a1") == 2


def test_self_parent_and_cycles_are_broken() -> None:
    tree = build_tree([S("x", "x", 0, 1), S("a", "b", 2, 3), S("b", "a", 4, 5)])
    assert sorted(s.span_id for s in tree.spans) == ["a", "b", "x"]
    assert tree.orphan[tree.position("x")]  # type: ignore[index]
    assert tree.orphan[tree.position("a")]  # type: ignore[index]
    assert tree.parent[tree.position("b")] == tree.position("a")


def test_a_deep_chain_is_built_without_recursion() -> None:
    tree = build_tree([S(f"s{i}", f"s{i - 1}" if i else None, i, 10**6) for i in range(20_000)])
    assert tree.depth[-1] == 19_999
    assert tree.size[0] == 20_000


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 15), st.one_of(st.none(), st.integers(0, 17)), st.integers(0, 99)),
        max_size=40,
    )
)
def test_every_span_once_and_subtrees_contiguous(raw: list[tuple[int, int | None, int]]) -> None:
    spans = [S(f"s{i}", None if p is None else f"s{p}", t, t + 1) for i, p, t in raw]
    tree = build_tree(spans)
    assert sorted(s.span_id for s in tree.spans) == sorted({s.span_id for s in spans})
    for pos in range(len(tree)):
        up = tree.parent[pos]
        if up >= 0:
            assert up < pos < up + tree.size[up]
            assert tree.depth[pos] == tree.depth[up] + 1
        else:
            assert tree.depth[pos] == 0
