"""The ``/`` filter line above a list: hidden until asked for, applies as you type."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label

# Typing fast should not start a query per key.
DEBOUNCE_S = 0.25


class FilterBar(Horizontal):
    """An input that filters the view under it, and a short status on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close filter", show=False),
    ]

    class Changed(Message):
        """The filter text changed."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Closed(Message):
        """The user left the filter (Enter keeps it, Esc clears it)."""

    def __init__(self, placeholder: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._placeholder = placeholder
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label("/", id="filter-prompt")
        yield Input(placeholder=self._placeholder, id="filter-input")
        yield Label("", id="filter-status")

    def open(self, text: str) -> None:
        """Show the bar with ``text`` and put the cursor in it."""
        self.add_class("-open")
        field = self.query_one(Input)
        field.value = text
        field.focus()

    def close(self) -> None:
        """Hide the input (the status stays visible when the filter is active)."""
        field = self.query_one(Input)
        field.value = ""
        self.remove_class("-open")

    def set_status(self, text: str) -> None:
        """The short note on the right: how many rows, or why there are none."""
        self.query_one("#filter-status", Label).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        text = event.value.strip()
        self._timer = self.set_timer(DEBOUNCE_S, lambda: self.post_message(self.Changed(text)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self.post_message(self.Changed(event.value.strip()))
        self.post_message(self.Closed())

    def action_close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.close()
        self.post_message(self.Changed(""))
        self.post_message(self.Closed())
