"""Messages the views send to the app."""

from __future__ import annotations

from textual.message import Message


class SessionChosen(Message):
    """A view asks for every view to show one session (``None``: all sessions)."""

    def __init__(self, session_id: str | None) -> None:
        super().__init__()
        self.session_id = session_id
