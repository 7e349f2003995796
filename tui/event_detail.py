"""Every attribute of one event, over the view it was opened from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label

from otelwatch.tui import format as fmt
from otelwatch.tui.text_screen import TextScreen

if TYPE_CHECKING:
    from otelwatch.store.queries.events import EventDetail
    from otelwatch.store.reader import Reader

# Attribute values longer than this are folded; Enter on the row shows them whole.
FOLD_AT = 120


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class EventDetailScreen(ModalScreen[None]):
    """The event's fields, its attributes and its resource, in one table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Back"),
        Binding("q", "dismiss", "Back", show=False),
        Binding("enter", "unfold", "Unfold value"),
    ]

    def __init__(self, key: int) -> None:
        super().__init__()
        self._key = key
        self._values: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="event-detail"):
            yield Label("loading…", id="event-detail-title")
            table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("field", "value")
            yield table
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="event-detail")
    def _load(self) -> None:
        source: Reader = self.app.source  # type: ignore[attr-defined]
        detail = source.event_detail(self._key)
        self.app.call_from_thread(self._show, detail)

    def _show(self, detail: EventDetail | None) -> None:
        title = self.query_one("#event-detail-title", Label)
        if detail is None:
            title.update("This event is no longer stored.")
            return
        title.update(
            fmt.literal(
                f"{detail.event_name or detail.body or 'log record'}  ·  "
                f"{fmt.date_time(detail.time_ns)}  ·  session {detail.session_id or '–'}"
            )
        )
        rows: list[tuple[str, str]] = [
            ("time", f"{fmt.date_time(detail.time_ns)}  ({detail.time_ns})"),
            ("event", detail.event_name or ""),
            ("body", detail.body or ""),
            ("session.id", detail.session_id or ""),
            ("prompt.id", detail.prompt_id or ""),
            ("trace / span", f"{detail.trace_id or '–'} / {detail.span_id or '–'}"),
            ("severity", f"{detail.severity_number} {detail.severity_text or ''}".strip()),
            ("service / scope", f"{detail.service_name or '–'} / {detail.scope_name or '–'}"),
        ]
        rows += [(key, _value_text(value)) for key, value in sorted(detail.attributes.items())]
        rows += [
            (f"resource: {key}", _value_text(value))
            for key, value in sorted(detail.resource.items())
        ]
        table = self.query_one(DataTable)
        table.clear()
        self._values = [value for _, value in rows]
        for key, value in rows:
            shown = value if len(value) <= FOLD_AT else value[: FOLD_AT - 1] + "…"
            table.add_row(fmt.literal(key), fmt.literal(shown))
        table.focus()

    def action_unfold(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        if 0 <= row < len(self._values) and len(self._values[row]) > FOLD_AT:
            key = str(table.get_row_at(row)[0])
            self.app.push_screen(TextScreen(key, self._values[row]))
