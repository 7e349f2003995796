"""The waterfall: every span of a trace as a row, indented by parent, with its bar on a time axis
scaled to the trace and its duration.

A Line-API widget (a ``ScrollView`` with ``render_line``, as Textualize/toolong draws its huge
logs): only the rows on screen are ever drawn, so a 10,000-span trace opens and scrolls as fast
as a small one. The first line is the time axis and stays put while the rows scroll under it.

Colours come from the component classes below, styled in ``app.tcss`` with theme variables.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from otelwatch.tui import format as fmt
from otelwatch.tui.trace_model import TraceModel
from otelwatch.tui.waterfall_geometry import Columns, bar, cells, columns, guides, ticks

_BAR_CLASS = {
    "model": "waterfall--bar-model",
    "tool": "waterfall--bar-tool",
    "user": "waterfall--bar-user",
    "other": "waterfall--bar",
}


class Waterfall(ScrollView, can_focus=True):
    """The spans of one trace on a time axis; the cursor row is the selected span."""

    HELP = """
Every span of the trace, indented under its parent, with its bar on the trace's time axis and
its duration. Bars are coloured by kind: model calls, tool execution, waiting for you, other;
failed spans in the error colour. A span taking a fifth of the trace or more is bold and says
its share. ⋯ marks a span whose parent has not arrived.

- **↑↓ j k** move, **PgUp PgDn g G** jump, **← h** fold (or go to the parent), **→ l** unfold
- **Enter** the span's detail: attributes, span events, links, resource, its log events
- **/** search names, attributes and span events; **n N** next and previous match
- **c** show the critical path: what the end of the trace waited for
- **e** next failed span, **Esc** back to the list
"""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waterfall--header",
        "waterfall--guide",
        "waterfall--toggle",
        "waterfall--name",
        "waterfall--detail",
        "waterfall--error",
        "waterfall--orphan",
        "waterfall--match",
        "waterfall--large",
        "waterfall--duration",
        "waterfall--bar",
        "waterfall--bar-model",
        "waterfall--bar-tool",
        "waterfall--bar-user",
        "waterfall--bar-error",
        "waterfall--bar-critical",
        "waterfall--bar-faded",
        "waterfall--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("left,h", "collapse", "Fold"),
        Binding("right,l", "expand", "Unfold"),
        Binding("space", "fold", "Fold/unfold", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First span", show=False),
        Binding("end,G", "last", "Last span", show=False),
        Binding("enter", "select", "Detail"),
        Binding("c", "toggle_critical", "Critical path"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("e", "next_error", "Next error"),
    ]

    class SpanHighlighted(Message):
        """The cursor moved to another span."""

        def __init__(self, span_id: str | None) -> None:
            super().__init__()
            self.span_id = span_id

    class SpanSelected(Message):
        """Enter (or a second click) on a span."""

        def __init__(self, span_id: str) -> None:
            super().__init__()
            self.span_id = span_id

    class Changed(Message):
        """What the status line reports changed: the critical path, the match under the cursor."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model: TraceModel | None = None
        self._visible: list[int] = []
        self._collapsed: set[int] = set()
        self._cursor = 0
        self._matches: list[int] = []
        self._match_set: frozenset[int] = frozenset()
        self.show_critical = False
        self._on_path: dict[int, list[tuple[int, int]]] | None = None
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ data

    def load(self, model: TraceModel | None, *, keep_state: bool = False) -> None:
        """Show ``model``. With ``keep_state`` (the same trace, grown), the folded spans, the
        cursor and the search matches stay on the same spans."""
        old = self.model
        folded: list[str] = []
        cursor_id: str | None = None
        match_ids: list[str] = []
        if keep_state and old is not None:
            spans = old.tree.spans
            folded = [spans[p].span_id for p in self._collapsed]
            cursor_id = self.span_id
            match_ids = [spans[p].span_id for p in self._matches]
        self.model = model
        self._on_path = None
        self._collapsed = set()
        self._matches, self._match_set = [], frozenset()
        self._cursor = 0
        if model is not None:
            tree = model.tree
            self._collapsed = {p for p in map(tree.position, folded) if p is not None}
            self._set_matches([p for p in map(tree.position, match_ids) if p is not None])
        self._relayout()
        if model is not None and cursor_id is not None:
            pos = model.tree.position(cursor_id)
            if pos is not None:
                self._reveal(pos)
                self._cursor = self._row_of(pos)
        self._cursor_moved()

    def set_matches(self, span_ids: list[str]) -> None:
        """Mark the spans a search found; the cursor goes to the first one at or after it."""
        if self.model is None:
            return
        tree = self.model.tree
        self._set_matches([p for p in map(tree.position, span_ids) if p is not None])
        if self._matches:
            here = self.position if self.position is not None else 0
            i = bisect_left(self._matches, here)
            self._go_to(self._matches[i % len(self._matches)])
        self.refresh()
        self.post_message(self.Changed())

    def _set_matches(self, positions: list[int]) -> None:
        self._matches = sorted(set(positions))
        self._match_set = frozenset(self._matches)

    @property
    def span_id(self) -> str | None:
        """The span under the cursor."""
        pos = self.position
        return None if pos is None or self.model is None else self.model.tree.spans[pos].span_id

    @property
    def position(self) -> int | None:
        """The tree position under the cursor."""
        if not self._visible:
            return None
        return self._visible[min(self._cursor, len(self._visible) - 1)]

    @property
    def cursor_row(self) -> int:
        """The cursor's row among the visible rows."""
        return self._cursor

    @property
    def row_count(self) -> int:
        """Rows shown (spans not folded away)."""
        return len(self._visible)

    @property
    def matches(self) -> int:
        """Spans the search found."""
        return len(self._matches)

    @property
    def match_number(self) -> int | None:
        """Which match (1-based) the cursor is on, if any."""
        pos = self.position
        if pos is None or pos not in self._match_set:
            return None
        return bisect_left(self._matches, pos) + 1

    def visible_span_ids(self) -> list[str]:
        """The span ids of the rows shown, top to bottom (for tests and tools)."""
        if self.model is None:
            return []
        spans = self.model.tree.spans
        return [spans[p].span_id for p in self._visible]

    def _relayout(self) -> None:
        self._visible = self.model.tree.visible(self._collapsed) if self.model else []
        self._cursor = min(self._cursor, max(0, len(self._visible) - 1))
        self.virtual_size = Size(0, len(self._visible) + 1)
        self.refresh()

    def _row_of(self, pos: int) -> int:
        """The visible row of ``pos``, or of its nearest shown ancestor."""
        row = bisect_right(self._visible, pos) - 1
        return max(0, row)

    def _reveal(self, pos: int) -> None:
        """Unfold every ancestor of ``pos``."""
        if self.model is None:
            return
        hidden = [a for a in self.model.tree.ancestors(pos) if a in self._collapsed]
        if hidden:
            self._collapsed.difference_update(hidden)
            self._relayout()

    def _go_to(self, pos: int) -> None:
        self._reveal(pos)
        self._cursor = self._row_of(pos)
        self._cursor_moved()

    def _cursor_moved(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.SpanHighlighted(self.span_id))
        self.post_message(self.Changed())

    def _scroll_to_cursor(self) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_offset.y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + rows:
            self.scroll_to(y=self._cursor - rows + 1, animate=False, force=True)

    # ------------------------------------------------------------------ actions

    def _move(self, delta: int) -> None:
        if not self._visible:
            return
        row = min(max(0, self._cursor + delta), len(self._visible) - 1)
        if row != self._cursor:
            self._cursor = row
            self._cursor_moved()

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self._move(max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._move(-len(self._visible))

    def action_last(self) -> None:
        self._move(len(self._visible))

    def action_collapse(self) -> None:
        pos = self.position
        if pos is None or self.model is None:
            return
        tree = self.model.tree
        if tree.has_children(pos) and pos not in self._collapsed:
            self._collapsed.add(pos)
            self._relayout()
            self._cursor_moved()
        elif tree.parent[pos] >= 0:
            self._go_to(tree.parent[pos])

    def action_expand(self) -> None:
        pos = self.position
        if pos is None or self.model is None:
            return
        if pos in self._collapsed:
            self._collapsed.discard(pos)
            self._relayout()
            self._cursor_moved()
        elif self.model.tree.has_children(pos):
            self._move(1)

    def action_fold(self) -> None:
        pos = self.position
        if pos is None or self.model is None or not self.model.tree.has_children(pos):
            return
        self._collapsed.symmetric_difference_update({pos})
        self._relayout()
        self._cursor_moved()

    def action_select(self) -> None:
        span_id = self.span_id
        if span_id is not None:
            self.post_message(self.SpanSelected(span_id))

    def action_toggle_critical(self) -> None:
        self.show_critical = not self.show_critical
        self.refresh()
        self.post_message(self.Changed())

    def _jump(self, targets: list[int], forward: bool) -> None:
        if not targets:
            return
        here = self.position if self.position is not None else -1
        if forward:
            i = bisect_right(targets, here)
            self._go_to(targets[i % len(targets)])
        else:
            i = bisect_left(targets, here) - 1
            self._go_to(targets[i % len(targets)])

    def action_next_match(self) -> None:
        self._jump(self._matches, forward=True)

    def action_previous_match(self) -> None:
        self._jump(self._matches, forward=False)

    def action_next_error(self) -> None:
        if self.model is not None:
            self._jump([p for p, e in enumerate(self.model.errors) if e], forward=True)

    def on_click(self, event: events.Click) -> None:
        if event.y < 1 or not self._visible:
            return
        row = round(self.scroll_offset.y) + event.y - 1
        if row >= len(self._visible):
            return
        if row == self._cursor:
            self.action_select()
        else:
            self._cursor = row
            self._cursor_moved()

    # ------------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        """A component's own style, to lay over others. Its colours are taken from the full
        style, where Textual has blended any transparency with what is underneath."""
        style = self._styles.get(name)
        if style is None:
            own = self.get_component_rich_style(name, partial=True)
            full = self.get_component_rich_style(name)
            style = own + Style(
                color=full.color if own.color else None,
                bgcolor=full.bgcolor if own.bgcolor else None,
            )
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self.model is None:
            return Strip.blank(width, base)
        cols = columns(width)
        if y == 0:
            return self._header(cols, width, base)
        row = round(self.scroll_offset.y) + y - 1
        if row >= len(self._visible):
            return Strip.blank(width, base)
        return self._row(self._visible[row], row == self._cursor, cols, width, base)

    def _header(self, cols: Columns, width: int, base: Style) -> Strip:
        assert self.model is not None
        style = base + self._style("waterfall--header")
        tree = self.model.tree
        line = [" "] * width
        title = f"{len(tree):,} span{'s' if len(tree) != 1 else ''}"
        _put(line, 0, title[: cols.name])
        for cell, label in ticks(tree.duration_ns, cols.bar):
            _put(line, cols.bar_x + cell, label)
        label = "duration"
        _put(line, cols.duration_x + cols.duration - len(label), label)
        return Strip([Segment("".join(line), style)], width)

    def _row(self, pos: int, is_cursor: bool, cols: Columns, width: int, base: Style) -> Strip:
        model = self.model
        assert model is not None
        tree = model.tree
        span = tree.spans[pos]
        extra = self._style("waterfall--cursor") if is_cursor else Style()
        segments: list[Segment] = []

        def add(text: str, name: str | None = None, style: Style | None = None) -> None:
            if text:
                own = style if style is not None else (self._style(name) if name else Style())
                segments.append(Segment(text, base + own + extra))

        # The name column: tree guides, fold toggle, orphan mark, name, detail.
        name_cells = cols.name
        cut, lines = guides(tree, pos, max(1, name_cells // 2 - 8))
        lead = ("‥" if cut else "") + lines
        if tree.has_children(pos):
            toggle = "▸" if pos in self._collapsed else "▾"
        else:
            toggle = "─" if tree.depth[pos] else " "
        used = 0
        for part, style_name in (
            (lead, "waterfall--guide"),
            (toggle, "waterfall--toggle" if tree.has_children(pos) else "waterfall--guide"),
            (" ", None),
        ):
            text = _fit(part, name_cells - used)
            add(text, style_name)
            used += cell_len(text)
        if tree.orphan[pos]:
            text = _fit("⋯ ", name_cells - used)
            add(text, "waterfall--orphan")
            used += cell_len(text)
        name_style = self._style("waterfall--name")
        if model.errors[pos]:
            name_style = name_style + self._style("waterfall--error")
        if model.large[pos]:
            name_style = name_style + self._style("waterfall--large")
        if pos in self._match_set:
            name_style = name_style + self._style("waterfall--match")
        text = _fit(fmt.printable(model.labels[pos]), name_cells - used)
        add(text, style=name_style)
        used += cell_len(text)
        detail = model.details[pos]
        if detail and used + 3 <= name_cells:
            text = _fit("  " + fmt.printable(detail), name_cells - used)
            add(text, "waterfall--detail")
            used += cell_len(text)
        add(" " * (name_cells - used + 1))

        # The bar on the time axis.
        t0, total = tree.start_ns, tree.duration_ns
        first, glyphs = bar(span.start_ns, span.end_ns, t0, total, cols.bar)
        if model.errors[pos]:
            bar_style = self._style("waterfall--bar-error")
        else:
            bar_style = self._style(_BAR_CLASS[model.kinds[pos]])
        painted = [bar_style] * len(glyphs)
        if self.show_critical:
            faded = bar_style + self._style("waterfall--bar-faded")
            critical = bar_style + self._style("waterfall--bar-critical")
            painted = [faded] * len(glyphs)
            if self._on_path is None:
                # Only worked out when first drawn: most traces are never shown this way.
                self._on_path = model.path.sections_of()
            for start, end in self._on_path.get(pos, ()):
                for cell in cells(start, end, t0, total, cols.bar):
                    if first <= cell < first + len(glyphs):
                        painted[cell - first] = critical
        add(" " * first)
        run_start = 0
        for i in range(1, len(glyphs) + 1):
            if i == len(glyphs) or painted[i] is not painted[run_start]:
                add(glyphs[run_start:i], style=painted[run_start])
                run_start = i
        add(" " * (cols.bar - first - len(glyphs) + 1))

        # The duration, and the share of the trace for a large span.
        duration = fmt.duration_ns(max(0, span.end_ns - span.start_ns))
        share = f" {fmt.percent(model.share(pos)):>4}" if model.large[pos] else ""
        text = (duration + share).rjust(cols.duration)[: cols.duration]
        add(text, "waterfall--large" if model.large[pos] else "waterfall--duration")
        return Strip(segments, width).crop_extend(0, width, base + extra)


def _fit(text: str, cells_left: int) -> str:
    """``text`` cut to ``cells_left`` cells, with an ellipsis when cut."""
    if cells_left <= 0:
        return ""
    if cell_len(text) <= cells_left:
        return text
    return set_cell_size(text, cells_left - 1) + "…"


def _put(line: list[str], at: int, text: str) -> None:
    for i, char in enumerate(text):
        if 0 <= at + i < len(line):
            line[at + i] = char
