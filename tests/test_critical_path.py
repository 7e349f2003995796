"""The critical path (Jaeger's last-finishing-child walk) on hand-built trees."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from otelwatch.tui.critical_path import VIRTUAL_ROOT, Category, category, critical_path
from otelwatch.tui.trace_tree import TraceTree, build_tree


@dataclass(frozen=True)
class S:
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    span_type: str | None = None


def path(spans: list[S]) -> list[tuple[str, int, int]]:
    """The path as (span id or '-', start, end), in time order."""
    tree = build_tree(spans)
    result = critical_path(tree)
    return [
        ("-" if s.pos == VIRTUAL_ROOT else tree.spans[s.pos].span_id, s.start_ns, s.end_ns)
        for s in result.sections
    ]


def test_a_leaf_is_its_own_path() -> None:
    assert path([S("r", None, 0, 100)]) == [("r", 0, 100)]


def test_sequential_children_all_on_the_path_with_the_gaps_in_the_parent() -> None:
    spans = [S("r", None, 0, 100), S("a", "r", 10, 40), S("b", "r", 50, 90)]
    assert path(spans) == [
        ("r", 0, 10),
        ("a", 10, 40),
        ("r", 40, 50),
        ("b", 50, 90),
        ("r", 90, 100),
    ]


def test_back_to_back_children_are_both_on_the_path() -> None:
    # Jaeger's strict "<" would give a's time to the parent; a ends exactly when b starts.
    spans = [S("r", None, 0, 100), S("a", "r", 0, 50), S("b", "r", 50, 100)]
    assert path(spans) == [("a", 0, 50), ("b", 50, 100)]


def test_overlapping_children_only_the_last_finishing_chain_counts() -> None:
    #  r |0--------------------------------100|
    #  a    |10----------60|
    #  b        |20----50|
    #  c                     |55--------90|
    # c finishes last; before c started (55), b is the last to have finished (a ended at 60,
    # after c started, so a was not waited for). Back at b's start, a was running, but it
    # outlasted b: b did not follow it, so the parent has that time.
    spans = [
        S("r", None, 0, 100),
        S("a", "r", 10, 60),
        S("b", "r", 20, 50),
        S("c", "r", 55, 90),
    ]
    assert path(spans) == [
        ("r", 0, 20),
        ("b", 20, 50),
        ("r", 50, 55),
        ("c", 55, 90),
        ("r", 90, 100),
    ]


def test_a_streamed_predecessor_is_on_the_path_up_to_the_span_it_led_to() -> None:
    # As in Claude Code's recorded trace: the tool starts while the model's answer that asked
    # for it still streams. The model's time up to the tool's start is on the path, not the
    # parent's.
    spans = [
        S("r", None, 0, 1973),
        S("llm1", "r", 1227, 1767),
        S("tool", "r", 1618, 1902),
        S("llm2", "r", 1924, 1966),
    ]
    assert path(spans) == [
        ("r", 0, 1227),
        ("llm1", 1227, 1618),
        ("tool", 1618, 1902),
        ("r", 1902, 1924),
        ("llm2", 1924, 1966),
        ("r", 1966, 1973),
    ]


def test_a_streamed_predecessor_wins_over_an_earlier_finished_child() -> None:
    # llm2 streams into tool2; glob finished before llm2 started, so it comes before llm2 in
    # the chain, not instead of it.
    spans = [
        S("r", None, 0, 100),
        S("llm1", "r", 2, 22),
        S("glob", "r", 21, 23),
        S("llm2", "r", 24, 41),
        S("tool2", "r", 40, 99),
    ]
    assert path(spans) == [
        ("r", 0, 2),
        ("llm1", 2, 21),
        ("glob", 21, 23),
        ("r", 23, 24),
        ("llm2", 24, 40),
        ("tool2", 40, 99),
        ("r", 99, 100),
    ]


def test_a_quick_tool_that_ends_while_the_model_still_streams_follows_the_model() -> None:
    # The model asked for the tool while streaming and finished streaming after the tool was
    # done: the tool still followed the model call. Only known with the kinds of the spans.
    spans = [
        S("r", None, 0, 100, "interaction"),
        S("llm1", "r", 0, 50, "llm_request"),
        S("tool", "r", 40, 45, "tool"),
        S("llm2", "r", 45, 100, "llm_request"),
    ]
    tree = build_tree(spans)
    kinds = [category(s.span_type, s.span_id) for s in tree.spans]
    with_kinds = [
        (tree.spans[s.pos].span_id, s.start_ns, s.end_ns)
        for s in critical_path(tree, kinds).sections
    ]
    assert with_kinds == [("llm1", 0, 40), ("tool", 40, 45), ("llm2", 45, 100)]
    # Without them, a sibling that outlasted the span is not its predecessor (as in Jaeger).
    assert path(spans) == [("r", 0, 40), ("tool", 40, 45), ("llm2", 45, 100)]


def test_parallel_children_the_longer_one_is_waited_for() -> None:
    spans = [S("r", None, 0, 100), S("fast", "r", 5, 30), S("slow", "r", 5, 95)]
    assert path(spans) == [("r", 0, 5), ("slow", 5, 95), ("r", 95, 100)]


def test_the_walk_descends_into_grandchildren() -> None:
    spans = [
        S("r", None, 0, 100),
        S("tool", "r", 10, 90),
        S("wait", "tool", 12, 30),
        S("exec", "tool", 30, 88),
        S("llm", "r", 0, 10),
    ]
    assert path(spans) == [
        ("llm", 0, 10),
        ("tool", 10, 12),
        ("wait", 12, 30),
        ("exec", 30, 88),
        ("tool", 88, 90),
        ("r", 90, 100),
    ]


def test_a_child_overflowing_its_parent_is_clipped_to_it() -> None:
    spans = [S("r", None, 0, 100), S("a", "r", 60, 130), S("b", "r", -20, 30)]
    assert path(spans) == [("b", 0, 30), ("r", 30, 60), ("a", 60, 100)]


def test_a_child_outside_its_parent_is_left_out_with_its_subtree() -> None:
    spans = [
        S("r", None, 0, 100),
        S("late", "r", 120, 150),
        S("under-late", "late", 125, 140),
        S("a", "r", 10, 20),
    ]
    assert path(spans) == [("r", 0, 10), ("a", 10, 20), ("r", 20, 100)]


def test_missing_root_orphans_are_walked_under_a_virtual_root() -> None:
    # The interaction span has not arrived: two llm requests with a gap between them.
    spans = [
        S("llm1", "missing", 0, 40),
        S("llm2", "missing", 60, 100),
        S("exec", "llm2", 70, 80),
    ]
    assert path(spans) == [
        ("llm1", 0, 40),
        ("-", 40, 60),
        ("llm2", 60, 70),
        ("exec", 70, 80),
        ("llm2", 80, 100),
    ]


def test_orphans_of_a_present_root_are_taken_as_its_children() -> None:
    # The tool span has not arrived, its execution child has: it is work inside the root.
    spans = [S("r", None, 0, 100), S("exec", "tool", 30, 80), S("early", "gone", -10, 5)]
    assert path(spans) == [("early", 0, 5), ("r", 5, 30), ("exec", 30, 80), ("r", 80, 100)]


def test_two_roots_are_walked_under_a_virtual_root() -> None:
    spans = [S("r1", None, 0, 40), S("r2", None, 50, 80), S("r3", None, 45, 90)]
    assert path(spans) == [("r1", 0, 40), ("-", 40, 45), ("r3", 45, 90)]


def test_zero_length_spans_end_the_walk() -> None:
    spans = [
        S("r", None, 0, 100),
        S("z1", "r", 50, 50),
        S("z2", "r", 50, 50),
        S("a", "r", 20, 50),
    ]
    result = path(spans)
    assert sum(e - s for _, s, e in result) == 100
    assert ("a", 20, 50) in result


def test_a_parent_cycle_still_gives_a_path() -> None:
    spans = [S("a", "b", 0, 100), S("b", "a", 10, 50)]
    assert path(spans) == [("a", 0, 10), ("b", 10, 50), ("a", 50, 100)]


def test_a_10000_deep_chain_does_not_recurse() -> None:
    spans = [S(f"s{i}", f"s{i - 1}" if i else None, i, 20_000 - i) for i in range(10_000)]
    result = path(spans)
    assert sum(e - s for _, s, e in result) == 20_000
    assert result[0] == ("s0", 0, 1)


def test_time_is_split_by_kind_of_span() -> None:
    spans = [
        S("r", None, 0, 100, "interaction"),
        S("llm", "r", 0, 30, "llm_request"),
        S("tool", "r", 30, 90, "tool"),
        S("wait", "tool", 32, 50, "tool.blocked_on_user"),
        S("exec", "tool", 50, 88, "tool.execution"),
    ]
    tree = build_tree(spans)
    kinds = [category(s.span_type, s.span_id) for s in tree.spans]
    result = critical_path(tree, kinds)
    assert result.by_category == {"model": 30, "tool": 38, "user": 18, "other": 14}
    assert result.total_ns == 100
    on_path = {tree.spans[p].span_id for p in result.positions()}
    assert on_path == {"r", "llm", "tool", "wait", "exec"}


def test_category_from_span_type_or_name() -> None:
    assert category("llm_request", "x") == "model"
    assert category(None, "claude_code.tool.execution") == "tool"
    assert category(None, "tool.blocked_on_user") == "user"
    assert category("tool", "claude_code.tool") == "other"
    assert category(None, "HTTP GET") == "other"


# ---------------------------------------------------------------------------- properties


@st.composite
def trees(draw: st.DrawFn) -> list[S]:
    count = draw(st.integers(1, 30))
    spans = []
    for i in range(count):
        start = draw(st.integers(0, 1000))
        end = start + draw(st.integers(0, 500))
        parent = draw(st.one_of(st.none(), st.integers(0, count + 2)))
        spans.append(S(f"s{i}", None if parent is None else f"s{parent}", start, end))
    return spans


@settings(max_examples=300, deadline=None)
@given(trees(), st.lists(st.sampled_from(["model", "tool", "user", "other"]), min_size=40))
def test_sections_tile_the_trace_and_stay_inside_their_spans(
    spans: list[S], drawn: list[Category]
) -> None:
    tree: TraceTree[S] = build_tree(spans)
    kinds = drawn[: len(tree)]
    result = critical_path(tree, kinds)
    sections = result.sections
    assert sections or result.total_ns == 0
    for before, after in itertools.pairwise(sections):
        assert before.end_ns == after.start_ns
    assert sum(s.duration_ns for s in sections) == result.total_ns
    assert sum(result.by_category.values()) == result.total_ns
    for section in sections:
        assert section.start_ns < section.end_ns
        if section.pos != VIRTUAL_ROOT:
            span = tree.spans[section.pos]
            assert span.start_ns <= section.start_ns
            assert section.end_ns <= span.end_ns
