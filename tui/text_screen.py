"""A long value shown whole, wrapped and scrollable: a prompt, a command, a raw body."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from otelwatch.tui import format as fmt


def _pretty(value: str) -> str:
    """JSON text indented, anything else as it is."""
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return value


class TextScreen(ModalScreen[None]):
    """One value in full."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Back"),
        Binding("q", "dismiss", "Back", show=False),
    ]

    def __init__(self, title: str, value: str) -> None:
        super().__init__()
        self._title = title
        self._value = value

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="text-screen"):
            yield Label(fmt.literal(self._title), id="text-screen-title")
            # Made printable line by line: the newlines between them are real line breaks.
            lines = _pretty(self._value).split("\n")
            yield Static(Text("\n".join(fmt.printable(line) for line in lines)))
        yield Footer()
