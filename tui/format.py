"""Numbers, times and ids as a person reads them: ``$0.35``, ``62.4k``, ``2.5 s``."""

from __future__ import annotations

import math
import os
import time

from rich.text import Text

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def money(usd: float | None) -> str:
    """Dollars: two decimals, more for fractions of a cent, none in the thousands."""
    if usd is None:
        return "–"
    if usd == 0:
        return "$0.00"
    sign = "-" if usd < 0 else ""
    usd = abs(usd)
    if usd < 0.01:
        return f"{sign}${usd:.4f}"
    if usd < 1000:
        return f"{sign}${usd:,.2f}"
    return f"{sign}${usd:,.0f}"


def compact(n: float | None) -> str:
    """A count in at most four significant characters: ``950``, ``12.4k``, ``1.23M``."""
    if n is None:
        return "–"
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 1000:
        return f"{sign}{n:.0f}" if float(n).is_integer() or n >= 100 else f"{sign}{n:.1f}"
    for unit, scale in (("k", 1e3), ("M", 1e6), ("B", 1e9), ("T", 1e12)):
        value = n / scale
        if value < 1000 or unit == "T":
            if value < 10:
                return f"{sign}{value:.2f}{unit}"
            if value < 100:
                return f"{sign}{value:.1f}{unit}"
            return f"{sign}{value:.0f}{unit}"
    raise AssertionError("unreachable")


def tokens(n: float | None) -> str:
    """A token count: ``12.4k tok``."""
    return "–" if n is None else f"{compact(n)} tok"


def count(n: int | None) -> str:
    """An exact count with thousands separators."""
    return "–" if n is None else f"{n:,}"


def duration_ms(ms: float | None) -> str:
    """A duration: ``850 ms``, ``2.5 s``, ``1m 05s``, ``2h 03m``."""
    if ms is None or math.isnan(ms):
        return "–"
    ms = max(ms, 0)
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def duration_ns(ns: int | None) -> str:
    """A duration given in nanoseconds."""
    return "–" if ns is None else duration_ms(ns / NS_PER_MS)


def percent(ratio: float | None) -> str:
    """A ratio in [0, 1] as a percentage: ``42%``, ``99.5%``."""
    if ratio is None or math.isnan(ratio):
        return "–"
    value = ratio * 100
    if value == 0 or (value >= 99.95 and value == 100):
        return f"{value:.0f}%"
    if value < 10 or value > 99:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def rate_per_hour(usd_per_hour: float | None) -> str:
    """A burn rate: ``$1.23/h``."""
    return "–" if usd_per_hour is None else f"{money(usd_per_hour)}/h"


def clock(ns: int | None) -> str:
    """A local wall-clock time: ``14:03:22``."""
    if ns is None:
        return "–"
    return time.strftime("%H:%M:%S", time.localtime(ns / NS_PER_S))


def date_time(ns: int | None) -> str:
    """A local date and time: ``2026-11-23 14:03``."""
    if ns is None:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ns / NS_PER_S))


def age(ns: int | None, now_ns: int) -> str:
    """How long ago: ``now``, ``42s ago``, ``3m ago``, ``2h ago``, ``5d ago``."""
    if ns is None:
        return "–"
    seconds = max(0, (now_ns - ns) // NS_PER_S)
    if seconds < 2:
        return "now"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def short_id(value: str | None, width: int = 8) -> str:
    """The start of an id, enough to tell sessions and traces apart on screen."""
    if not value:
        return "–"
    return value[:width]


def short_path(path: str, width: int = 32) -> str:
    """A file path for a status line: the home directory as ``~``, the middle elided if long."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        path = "~" + path[len(home) :]
    if len(path) <= width:
        return path
    name = os.path.basename(path)
    room = width - len(name) - 2  # "…/" before the name
    return f"{path[:room]}…/{name}" if room > 3 else f"…/{name}"


def one_line(text: str | None, width: int) -> str:
    """Text on one line, cut to ``width`` characters with an ellipsis."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


# C0 controls become their visible "control picture" (ESC shows as ␛), DEL and C1 controls a
# replacement mark: telemetry text must never move the cursor or change colours on screen.
_CONTROLS = {c: 0x2400 + c for c in range(32) if c not in (9, 10)}
_CONTROLS[9] = 0x20  # tab: a space keeps columns aligned
_CONTROLS[10] = 0x2424  # newline: shown, not obeyed, inside a one-line cell
_CONTROLS[0x7F] = 0x2421
_CONTROLS.update(dict.fromkeys(range(128, 160), 65533))


def printable(text: str) -> str:
    """``text`` with every control character replaced by a visible symbol."""
    return text.translate(_CONTROLS)


def literal(value: object, style: str = "") -> Text:
    """Telemetry as a Rich ``Text``: never parsed as markup, control characters made visible."""
    return Text(printable("" if value is None else str(value)), style=style)
