"""The status line at the top: where otelwatch listens, the database, ingest rate, filter, live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from otelwatch.tui import format as fmt


@dataclass(frozen=True, slots=True)
class AppInfo:
    """Facts about this otelwatch instance, from the command line and the runtime."""

    db_label: str
    grpc_address: str | None = None
    http_address: str | None = None
    read_only: bool = False
    retention: str | None = None
    connect_lines: tuple[str, ...] = ()
    export_session: Callable[[str], str] | None = None
    """Writes a session's summary to a file and returns where (the Sessions view's ``x``); it
    reads the store, so call it from a worker thread."""
    warnings: tuple[str, ...] = ()
    """Shown once when the dashboard starts (for example: listening without a token)."""
    storage_problem: Callable[[], str | None] | None = None
    """Why new data cannot be stored right now (disk full, read-only), or ``None``. Cheap: it
    reads the writer's state, not the database."""


class StatusHeader(Widget):
    """One line: listeners · database · items/s · session filter · live or paused."""

    # Styled in app.tcss, so the theme decides every colour.
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-header--brand",
        "status-header--label",
        "status-header--value",
        "status-header--live",
        "status-header--paused",
        "status-header--static",
        "status-header--problem",
    }

    rate: reactive[float] = reactive(0.0)
    session: reactive[str | None] = reactive(None)
    live: reactive[bool] = reactive(True)
    problem: reactive[str | None] = reactive(None)

    def __init__(self, info: AppInfo, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.info = info

    def render(self) -> Text:
        # What changes comes first (live state, ingest rate, session filter), so a narrow
        # terminal cuts the long, fixed facts (addresses, database path) and not those.
        info = self.info
        style = self.get_component_rich_style
        label, value = style("status-header--label"), style("status-header--value")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" otelwatch ", style=style("status-header--brand"))
        line.append(" ")
        if self.problem:
            # Incoming data is being refused: nothing on the line matters more.
            line.append("⚠ not storing: ", style=style("status-header--problem"))
            line.append(self.problem, style=style("status-header--problem"))
            line.append("  ")
        if info.read_only:
            line.append("■ static", style=style("status-header--static"))
        elif self.live:
            line.append("● live", style=style("status-header--live"))
        else:
            line.append("‖ paused", style=style("status-header--paused"))
        if not info.read_only:
            line.append("  ")
            line.append(f"{fmt.compact(self.rate)}/s", style=value if self.rate else label)
        line.append("  session ", style=label)
        line.append(fmt.short_id(self.session) if self.session else "all", style=value)
        if info.grpc_address or info.http_address:
            if info.grpc_address:
                line.append("  gRPC ", style=label)
                line.append(info.grpc_address, style=value)
            if info.http_address:
                line.append("  HTTP ", style=label)
                line.append(info.http_address, style=value)
        else:
            line.append("  not listening", style=label)
        line.append("  db ", style=label)
        line.append(
            fmt.short_path(info.db_label) + (" (read-only)" if info.read_only else ""),
            style=value,
        )
        if info.retention:
            line.append("  keep ", style=label)
            line.append(info.retention, style=value)
        return line
