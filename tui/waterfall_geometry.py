"""Where things go on a waterfall row: columns, bars in eighths of a cell, the time axis, the
tree guides. Pure functions of numbers and strings, unit-tested without a terminal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from otelwatch.tui.trace_tree import S, TraceTree

# Left-aligned partial blocks: LEFT[n] covers n eighths of a cell from its left edge.
LEFT = " ▏▎▍▌▋▊▉█"
FULL = "█"

DURATION_WIDTH = 14
"""``12.3 s``, and for a span that takes a large share of the trace, `` 45%``."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The three columns of a row: the span's name (with its tree guides), its bar on the time
    axis, its duration. Offsets are cells from the left edge."""

    name: int
    bar_x: int
    bar: int
    duration_x: int
    duration: int


def columns(width: int) -> Columns:
    """The columns for a row ``width`` cells wide: about 40% for the names, at least 20 and at
    most 64 cells; the bar takes what is left."""
    duration = DURATION_WIDTH
    name = max(20, min(64, (width * 2) // 5))
    bar = max(1, width - name - duration - 2)
    if name + bar + duration + 2 > width:
        name = max(8, width - bar - duration - 2)
    return Columns(name, name + 1, bar, name + 1 + bar + 1, duration)


def scale(time_ns: int, t0_ns: int, span_ns: int, eighths: int) -> int:
    """``time_ns`` as an offset in eighths of a cell on an axis ``eighths`` long that starts at
    ``t0_ns`` and covers ``span_ns``, clamped to the axis."""
    if span_ns <= 0:
        return 0
    x = round((time_ns - t0_ns) * eighths / span_ns)
    return min(max(x, 0), eighths)


def bar(start_ns: int, end_ns: int, t0_ns: int, span_ns: int, width: int) -> tuple[int, str]:
    """The bar of a span from ``start_ns`` to ``end_ns`` on an axis of ``width`` cells that
    covers ``span_ns`` from ``t0_ns``: its first cell and its glyphs.

    The end is drawn to an eighth of a cell; the start to half a cell (a terminal has no
    right-aligned blocks between one eighth and a half). However short, a bar is visible.
    """
    total = width * 8
    x0 = scale(start_ns, t0_ns, span_ns, total)
    x1 = scale(max(start_ns, end_ns), t0_ns, span_ns, total)
    if x1 <= x0:
        x0, x1 = (x0, x0 + 1) if x0 < total else (total - 1, total)
    first, last = x0 // 8, (x1 - 1) // 8
    glyphs = []
    for cell in range(first, last + 1):
        lo = max(x0, cell * 8) - cell * 8
        hi = min(x1, cell * 8 + 8) - cell * 8
        glyphs.append(_glyph(lo, hi))
    return first, "".join(glyphs)


def _glyph(lo: int, hi: int) -> str:
    """The glyph for a cell covered from eighth ``lo`` to eighth ``hi`` (0 <= lo < hi <= 8)."""
    if lo == 0:
        return LEFT[hi]
    covered = hi - lo
    if hi == 8:
        return FULL if covered >= 7 else "▐" if covered >= 3 else "▕"
    # A bar shorter than a cell, inside it.
    if covered >= 6:
        return FULL
    if (lo + hi) < 8:
        return "▌" if covered >= 3 else "▏"
    return "▐" if covered >= 3 else "▕"


def cells(start_ns: int, end_ns: int, t0_ns: int, span_ns: int, width: int) -> range:
    """The cells a stretch of time touches on the axis (for painting part of a bar)."""
    first, glyphs = bar(start_ns, end_ns, t0_ns, span_ns, width)
    return range(first, first + len(glyphs))


# ---------------------------------------------------------------------------- the time axis


_UNITS = ((3600 * 10**9, "h"), (60 * 10**9, "m"), (10**9, "s"), (10**6, "ms"), (10**3, "µs"))


def tick_label(ns: int, step_ns: int) -> str:
    """A tick's time in the largest unit it reaches, with as many decimals as the step needs:
    ``0``, ``250ms``, ``1.5s``, ``2m``, ``1m30s``, ``1h15m``."""
    if ns <= 0:
        return "0"
    seconds = ns / 10**9
    if seconds >= 3600 and ns % (60 * 10**9) == 0:
        hours, minutes = divmod(ns // (60 * 10**9), 60)
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if seconds >= 60 and ns % 10**9 == 0:
        minutes, secs = divmod(ns // 10**9, 60)
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    for size, unit in _UNITS[2:]:
        if ns >= size or size == 10**3:
            value = ns / size
            if value.is_integer():
                return f"{int(value)}{unit}"
            decimals = max(0, math.ceil(-math.log10(step_ns / size) - 1e-9))
            return f"{value:.{min(decimals, 3)}f}{unit}"
    return f"{ns}ns"  # pragma: no cover - the loop always returns


def tick_step(span_ns: int, width: int, spacing: int = 12) -> int:
    """A round step giving about one tick every ``spacing`` cells: 1, 2 or 5 times a power of
    ten below ten seconds; above, steps a clock reads well (15 s, 30 s, 1 min, 5 min, 1 h…)."""
    if span_ns <= 0 or width <= 0:
        return 1
    wanted = span_ns * spacing / width
    s, m, h = 10**9, 60 * 10**9, 3600 * 10**9
    candidates: list[int] = [m * 10**e for e in range(10) for m in (1, 2, 5)]
    candidates += [10 * s, 15 * s, 20 * s, 30 * s]
    candidates += [k * m for k in (1, 2, 5, 10, 15, 20, 30)]
    candidates += [k * h for k in (1, 2, 3, 6, 12, 24)]
    return min((c for c in candidates if c >= wanted), default=candidates[-1])


def ticks(span_ns: int, width: int) -> list[tuple[int, str]]:
    """Tick marks on an axis of ``width`` cells covering ``span_ns``: (cell, label), labels
    never overlapping and never past the end."""
    if width <= 0:
        return []
    if span_ns <= 0:
        return [(0, "0")]
    step = tick_step(span_ns, width)
    out: list[tuple[int, str]] = []
    free = 0
    t = 0
    while t <= span_ns:
        cell = min(width - 1, scale(t, 0, span_ns, width * 8) // 8)
        label = tick_label(t, step)
        if cell >= free and cell + len(label) <= width:
            out.append((cell, label))
            free = cell + len(label) + 1
        t += step
    return out


# ---------------------------------------------------------------------------- tree guides


def guides(tree: TraceTree[S], pos: int, max_levels: int) -> tuple[bool, str]:
    """The tree lines before a row's toggle: ``│ `` for each ancestor level that has rows
    below, then ``├─`` or ``└─``. Only the ``max_levels`` innermost levels are drawn; the
    first value says whether outer ones were left out."""
    depth = tree.depth[pos]
    if depth == 0:
        return False, ""
    shown = min(depth, max(1, max_levels))
    parts = ["└─" if tree.last[pos] else "├─"]
    up = tree.parent[pos]
    for _ in range(shown - 1):
        parts.append("  " if tree.last[up] else "│ ")
        up = tree.parent[up]
    parts.reverse()
    return shown < depth, "".join(parts)
