"""The lines above the waterfall: what the trace was, and where its time went."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from otelwatch.tui import format as fmt
from otelwatch.tui.critical_path import CATEGORIES, Category
from otelwatch.tui.trace_model import TraceModel

LABELS: dict[Category, str] = {
    "model": "model",
    "tool": "tools",
    "user": "waiting for you",
    "other": "other",
}
SHORT_LABELS: dict[Category, str] = {
    "model": "model",
    "tool": "tools",
    "user": "you",
    "other": "other",
}


class TraceSummary(Widget):
    """Title and facts, the prompt, and the critical path split by kind of time."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-summary--title",
        "trace-summary--label",
        "trace-summary--value",
        "trace-summary--error",
        "trace-summary--warning",
        "trace-summary--prompt",
        "trace-summary--muted",
        "trace-summary--model",
        "trace-summary--tool",
        "trace-summary--user",
        "trace-summary--other",
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model: TraceModel | None = None

    def show(self, model: TraceModel | None) -> None:
        """Describe ``model``."""
        self.model = model
        self.refresh()

    def render(self) -> Text:
        model = self.model
        if model is None:
            return Text("")
        width = max(20, self.size.width)
        lines = Text("\n").join(
            [self._title(model), self._prompt(model, width), *self._path(model, width)]
        )
        lines.no_wrap, lines.overflow = True, "ellipsis"
        return lines

    def _title(self, model: TraceModel) -> Text:
        """Name, then the facts in order of importance (the line is cut on the right)."""
        style = self.get_component_rich_style
        label, value = style("trace-summary--label"), style("trace-summary--value")
        trace, tree = model.trace, model.tree
        title = Text()
        top = tree.top_level()
        root = next((p for p in top if not tree.orphan[p]), top[0] if top else None)
        name = "trace" if root is None else tree.spans[root].name
        title.append(fmt.printable(name), style=style("trace-summary--title"))

        def fact(key: str, text: str, own: str | None = None) -> None:
            title.append(f"  {key} " if key else "  ", style=label)
            title.append(fmt.printable(text), style=style(own) if own else value)

        if not model.has_root:
            fact("", "⋯ root span not received yet", "trace-summary--warning")
        elif model.orphans:
            plural = "s" if model.orphans != 1 else ""
            fact("", f"⋯ {model.orphans} span{plural} without parent", "trace-summary--warning")
        fact("took", fmt.duration_ns(tree.duration_ns))
        fact("", f"{len(tree):,} span{'s' if len(tree) != 1 else ''}")
        if model.error_count:
            count = model.error_count
            fact("", f"{count} error{'s' if count != 1 else ''}", "trace-summary--error")
        usage = trace.usage
        if usage is not None:
            if usage.cost_usd is not None:
                fact("", fmt.money(usage.cost_usd))
            # Spans without token attributes say nothing about tokens, not zero.
            if usage.from_events or usage.tokens:
                fact("", fmt.tokens(usage.tokens))
        if trace.truncated:
            fact("", f"first {len(tree):,} spans only", "trace-summary--warning")
        fact("at", fmt.clock(tree.start_ns))
        fact("trace", fmt.short_id(trace.trace_id))
        fact("session", fmt.short_id(trace.session_id))
        return title

    def _prompt(self, model: TraceModel, width: int) -> Text:
        style = self.get_component_rich_style
        trace = model.trace
        line = Text()
        if trace.prompt:
            line.append("› ", style=style("trace-summary--label"))
            text = fmt.printable(fmt.one_line(trace.prompt, width * 2))
            line.append(text, style=style("trace-summary--prompt"))
        elif trace.prompt_length is not None:
            line.append(
                f"› prompt of {trace.prompt_length:,} characters not exported "
                "(OTEL_LOG_USER_PROMPTS=1 exports it)",
                style=style("trace-summary--muted"),
            )
        else:
            line.append("› no prompt in this trace", style=style("trace-summary--muted"))
        return line

    def _path(self, model: TraceModel, width: int) -> list[Text]:
        """The critical path as one bar split by kind of time, and its legend."""
        style = self.get_component_rich_style
        label, value = style("trace-summary--label"), style("trace-summary--value")
        path = model.path
        total = max(1, path.total_ns)
        lead = "critical path "
        bar = Text()
        bar.append(lead, style=label)
        room = max(10, width - len(lead) - 1)
        used = done = 0
        for kind in CATEGORIES:
            done += path.by_category[kind]
            upto = round(done * room / total)
            if upto > used:
                bar.append("█" * (upto - used), style=style(f"trace-summary--{kind}"))
                used = upto
        # The legend as wide as fits: long labels and durations, short labels, shares only.
        tries = (
            (LABELS, True, len(lead)),
            (SHORT_LABELS, True, len(lead)),
            (SHORT_LABELS, True, 0),
            (SHORT_LABELS, False, len(lead)),
        )
        for labels, durations, indent in tries:
            legend = Text(" " * indent)
            for kind in CATEGORIES:
                spent = path.by_category[kind]
                legend.append("■ ", style=style(f"trace-summary--{kind}"))
                legend.append(f"{labels[kind]} ", style=label)
                shown = fmt.percent(spent / total) if spent else "–"
                if durations and spent:
                    shown = f"{fmt.duration_ns(spent)} {shown}"
                legend.append(shown, style=value)
                legend.append("  ")
            legend.rstrip()
            if legend.cell_len <= width:
                break
        return [bar, legend]
