"""Block-character graphs: a sparkline several rows high, and a horizontal meter.

Pure functions of numbers to strings, so they are tested without a terminal; the widgets that
use them give the strings their style (from the theme, through component classes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Eighths of a cell, from empty to full.
VERTICAL = " ▁▂▃▄▅▆▇█"
HORIZONTAL = " ▏▎▍▌▋▊▉█"


def resample(values: Sequence[float], width: int) -> list[float]:
    """``values`` stretched or squeezed to ``width`` columns.

    Squeezing keeps each column's largest value, so a single spike never disappears;
    stretching repeats values.
    """
    if width <= 0:
        return []
    n = len(values)
    if n == 0:
        return [0.0] * width
    if n == width:
        return [float(v) for v in values]
    out = []
    for column in range(width):
        lo = column * n // width
        hi = max(lo + 1, (column + 1) * n // width)
        out.append(float(max(values[lo:hi])))
    return out


def spark_rows(values: Sequence[float], width: int, height: int = 1) -> list[str]:
    """A bar graph of ``values``, ``height`` rows of ``width`` cells, top row first.

    Each column is one value scaled to the largest; any value above zero shows at least a
    sliver, so a cheap request is never invisible next to an expensive one.
    """
    height = max(1, height)
    columns = resample(values, width)
    top = max(columns, default=0.0)
    levels = []
    for value in columns:
        if value <= 0 or top <= 0 or math.isnan(value):
            levels.append(0)
        else:
            levels.append(max(1, round(value / top * height * 8)))
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        rows.append("".join(VERTICAL[min(8, max(0, level - floor))] for level in levels))
    return rows


def meter(ratio: float | None, width: int) -> tuple[str, str]:
    """A horizontal bar for ``ratio`` in [0, 1]: ``(filled, rest)``, ``width`` cells in all.

    ``filled`` ends with a partial block (eighths); ``rest`` is spaces, to be styled as the
    empty part of the track.
    """
    if width <= 0:
        return "", ""
    if ratio is None or math.isnan(ratio):
        return "", " " * width
    eighths = round(min(1.0, max(0.0, ratio)) * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (HORIZONTAL[part] if part else "")
    return filled, " " * (width - len(filled))
