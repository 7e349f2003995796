"""Waterfall geometry: columns, bars in eighths of a cell, the time axis, tree guides."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from otelwatch.tui.trace_tree import build_tree
from otelwatch.tui.waterfall_geometry import (
    bar,
    cells,
    columns,
    guides,
    scale,
    tick_label,
    tick_step,
    ticks,
)


@dataclass(frozen=True)
class S:
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int


def test_columns_fill_the_row() -> None:
    for width in (60, 80, 120, 200, 300):
        c = columns(width)
        assert c.bar_x == c.name + 1
        assert c.duration_x == c.bar_x + c.bar + 1
        assert c.duration_x + c.duration == width
        assert 20 <= c.name <= 64
    assert columns(120).name == 48
    assert columns(80).name == 32


def test_scale_clamps_to_the_axis() -> None:
    assert scale(50, 0, 100, 80) == 40
    assert scale(-10, 0, 100, 80) == 0
    assert scale(500, 0, 100, 80) == 80
    assert scale(7, 7, 0, 80) == 0


def test_whole_trace_fills_every_cell() -> None:
    assert bar(0, 100, 0, 100, 10) == (0, "█" * 10)


def test_the_end_is_drawn_in_eighths() -> None:
    # 0..45 of 100 on 10 cells: 36 eighths = 4 full cells and half of the fifth.
    assert bar(0, 45, 0, 100, 10) == (0, "████▌")
    assert bar(0, 425, 0, 1000, 10) == (0, "████▎")
    assert bar(0, 41, 0, 100, 10) == (0, "████▏")


def test_the_start_is_drawn_to_half_a_cell() -> None:
    first, glyphs = bar(55, 100, 0, 100, 10)
    assert first == 5
    assert glyphs == "▐████"


def test_a_tiny_span_is_still_visible() -> None:
    assert bar(50, 50, 0, 100, 10) == (5, "▏")
    assert bar(0, 0, 0, 100, 10) == (0, "▏")
    assert bar(100, 100, 0, 100, 10) == (9, "▕")
    assert bar(3, 4, 0, 1_000_000, 10) == (0, "▏")


def test_a_span_in_a_zero_length_trace() -> None:
    assert bar(5, 5, 5, 0, 10) == (0, "▏")


@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(1, 10_000),
    st.integers(1, 200),
)
def test_bars_stay_on_the_axis(start: int, length: int, span: int, width: int) -> None:
    first, glyphs = bar(start, start + length, 0, span, width)
    assert glyphs
    assert first >= 0
    assert first + len(glyphs) <= width
    assert cells(start, start + length, 0, span, width) == range(first, first + len(glyphs))


def test_tick_steps_are_round() -> None:
    assert tick_step(1_972_800_000, 60) == 500_000_000
    assert tick_step(10**9, 60) == 200_000_000
    assert tick_step(5 * 60 * 10**9, 60) == 60 * 10**9
    assert tick_step(231 * 10**9, 56) == 60 * 10**9  # not 50 s
    assert tick_step(60 * 10**9, 56) == 15 * 10**9
    assert tick_step(0, 60) == 1


def test_tick_labels_in_the_unit_reached() -> None:
    assert tick_label(0, 500_000_000) == "0"
    assert tick_label(500_000_000, 500_000_000) == "500ms"
    assert tick_label(1_000_000_000, 500_000_000) == "1s"
    assert tick_label(1_500_000_000, 500_000_000) == "1.5s"
    assert tick_label(120 * 10**9, 60 * 10**9) == "2m"
    assert tick_label(90 * 10**9, 30 * 10**9) == "1m30s"
    assert tick_label(5400 * 10**9, 1800 * 10**9) == "1h30m"
    assert tick_label(7200 * 10**9, 1800 * 10**9) == "2h"
    assert tick_label(5_000, 5_000) == "5µs"
    assert tick_label(250, 50) == "0.25µs"


def test_ticks_never_overlap_or_overflow() -> None:
    assert ticks(1_972_800_000, 60) == [(0, "0"), (15, "500ms"), (30, "1s"), (45, "1.5s")]
    for span in (1, 999, 10**6, 1_972_800_000, 3 * 3600 * 10**9):
        for width in (5, 20, 38, 56, 150):
            marks = ticks(span, width)
            free = 0
            for cell, label in marks:
                assert cell >= free
                assert cell + len(label) <= width
                free = cell + len(label) + 1
    assert ticks(0, 40) == [(0, "0")]
    assert ticks(100, 0) == []


def test_guides_draw_the_tree() -> None:
    tree = build_tree(
        [
            S("r", None, 0, 100),
            S("a", "r", 1, 50),
            S("a1", "a", 2, 10),
            S("a2", "a", 11, 20),
            S("b", "r", 60, 90),
            S("b1", "b", 61, 70),
        ]
    )
    rows = {s.span_id: guides(tree, p, 10) for p, s in enumerate(tree.spans)}
    assert rows == {
        "r": (False, ""),
        "a": (False, "├─"),
        "a1": (False, "│ ├─"),
        "a2": (False, "│ └─"),
        "b": (False, "└─"),
        "b1": (False, "  └─"),
    }


def test_deep_guides_keep_the_innermost_levels() -> None:
    tree = build_tree([S(f"s{i}", f"s{i - 1}" if i else None, i, 100) for i in range(50)])
    cut, text = guides(tree, 49, 4)
    assert cut
    assert text == "      └─"
