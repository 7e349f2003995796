"""A titled box of figures: the building block of the Overview.

A panel holds the last data it was given and renders it for its current size, so it can show
more rows or columns when there is room. Its styles are component classes, set in ``app.tcss``
from the theme: Python decides what is a label, a value, a warning; the theme decides colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from otelwatch.tui import format as fmt
from otelwatch.tui.widgets.spark import meter

# The narrowest a name column gets before optional columns are dropped to make room.
MIN_FLEX = 14


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a :func:`fitted` table."""

    header: str
    justify: str = "right"
    flex: bool = False
    """Takes what is left of the width, and is cut (with an ellipsis) when space is short."""
    drop: int = 0
    """Dropped when the table is too wide: higher numbers go first, columns with the same
    number together; 0 never."""
    max: int = 0
    """The widest the column gets (0: no limit); longer cells are cut with an ellipsis."""


def fitted(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Text]],
    width: int,
    head_style: Style | str = "",
    *,
    header: bool = True,
) -> Table:
    """A borderless table of ``rows`` in at most ``width`` cells, headers first (if ``header``).

    Every column is as wide as its widest cell. When that is too wide, the flexible column is cut
    to a readable minimum, then the droppable columns go (highest ``drop`` first), then the
    flexible column is cut further: names give way, numbers never do.
    """
    keep = list(range(len(columns)))
    widths = [
        max([len(c.header)] + [row[i].cell_len for row in rows]) for i, c in enumerate(columns)
    ]
    widths = [min(w, c.max) if c.max else w for w, c in zip(widths, columns, strict=True)]

    def total() -> int:
        return sum(widths[i] for i in keep) + max(0, len(keep) - 1)

    flex = next((i for i, c in enumerate(columns) if c.flex), None)
    natural = list(widths)

    def fit_flex(floor: int) -> None:
        # The flexible column as wide as it wants, or as what is left, but not below `floor`.
        if flex is not None:
            others = total() - widths[flex]
            widths[flex] = max(min(floor, natural[flex]), min(natural[flex], width - others))

    # Names give way to a readable minimum first, then optional columns go (a group with the
    # same `drop` together, names growing back into the room they leave), then names give way
    # below that minimum.
    fit_flex(MIN_FLEX)
    for group in sorted({c.drop for c in columns if c.drop}, reverse=True):
        if total() <= width:
            break
        keep = [i for i in keep if columns[i].drop != group]
        fit_flex(MIN_FLEX)
    fit_flex(3)
    table = Table.grid(padding=(0, 1), expand=False)
    for i in keep:
        table.add_column(
            justify=columns[i].justify,  # type: ignore[arg-type]
            width=widths[i],
            no_wrap=True,
            overflow="ellipsis",
        )
    if header:
        table.add_row(*(Text(columns[i].header, style=head_style) for i in keep))
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table


class Panel(Widget):
    """A bordered box with a title; subclasses draw ``self.data`` in :meth:`render_data`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "panel--label",
        "panel--value",
        "panel--strong",
        "panel--muted",
        "panel--good",
        "panel--warn",
        "panel--bad",
        "panel--bar",
        "panel--track",
        "panel--spark",
        "panel--head",
    }

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.border_title = title
        self.data: Any = None

    def update_data(self, data: Any) -> None:
        """Show ``data`` (on the UI thread)."""
        self.data = data
        # Set here, not while rendering: a border changed during render shows one frame late.
        self.border_subtitle = fmt.literal(self.subtitle(data))
        self.refresh(layout=True)

    def subtitle(self, data: Any) -> str:
        """The note on the bottom border for ``data`` (the source of the figures, a count)."""
        return ""

    def style(self, name: str) -> Style:
        """The theme's style for one kind of text (``label``, ``value``, ``bad``, …)."""
        return self.get_component_rich_style(f"panel--{name}")

    def text(self, value: str, kind: str = "value") -> Text:
        """``value`` in the style of ``kind``; never parsed as markup."""
        return Text(value, style=self.style(kind), no_wrap=True, overflow="ellipsis")

    def meter(self, ratio: float | None, width: int) -> Text:
        """A horizontal bar, the filled part and the track in their theme styles."""
        filled, rest = meter(ratio, width)
        bar = Text(no_wrap=True)
        bar.append(filled, style=self.style("bar"))
        bar.append(rest, style=self.style("track"))
        return bar

    def fitted(
        self, columns: Sequence[Column], rows: Sequence[Sequence[Text]], *, header: bool = True
    ) -> Table:
        """A table of ``rows`` fitted to the panel's width (see :func:`fitted`)."""
        return fitted(columns, rows, self.inner_width, self.style("head"), header=header)

    def grid(self, *justify: str) -> Table:
        """A borderless table with one column per ``justify`` entry (``left`` / ``right``)."""
        table = Table.grid(padding=(0, 1), expand=False)
        for how in justify:
            table.add_column(justify=how, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
        return table

    @property
    def inner_width(self) -> int:
        """Columns inside the border and padding."""
        return max(0, self.content_region.width)

    @property
    def inner_height(self) -> int:
        """Rows inside the border and padding."""
        return max(0, self.content_region.height)

    def render(self) -> RenderableType:
        if self.data is None:
            return self.text("…", "muted")
        return self.render_data(self.data)

    def render_data(self, data: Any) -> RenderableType:
        """Draw ``data`` for the panel's current size."""
        raise NotImplementedError
