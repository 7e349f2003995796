"""The five panels of the Overview: cost, tokens, tools, API health and activity.

Each draws its part of an :class:`~otelwatch.store.queries.overview.Overview` for the room it
has: fewer columns when narrow, as many rows as fit. Telemetry text (model and tool names,
decision sources, status codes) goes through :func:`fmt.printable`, never through markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from otelwatch.tui import format as fmt
from otelwatch.tui.widgets.panel import Column, Panel
from otelwatch.tui.widgets.spark import spark_rows

if TYPE_CHECKING:
    from otelwatch.store.queries.overview import (
        ApiHealth,
        CostSeries,
        DecisionCount,
        Overview,
        ToolStats,
        Usage,
    )

NS_PER_S = 1_000_000_000
BURN_WINDOWS_S = (300, 3600)
# Models listed in the cost and token panels; more are summed up in one line.
MAX_MODELS = 4


def burn_rates(recent: CostSeries, now_ns: int) -> tuple[float, float]:
    """USD per hour over the last 5 and the last 60 minutes before ``now_ns``."""
    short, long = BURN_WINDOWS_S
    return (
        recent.spent_since(now_ns - short * NS_PER_S) * 3600 / short,
        recent.spent_since(now_ns - long * NS_PER_S) * 3600 / long,
    )


def span_label(seconds: float) -> str:
    """A window's length, short: ``45s``, ``15m``, ``2h``, ``2.5h``."""
    if seconds < 120:
        return f"{round(seconds)}s"
    if seconds < 7200:
        return f"{round(seconds / 60)}m"
    hours = seconds / 3600
    return f"{hours:.0f}h" if hours >= 10 or hours.is_integer() else f"{hours:.1f}h"


def source_label(usage: Usage) -> str:
    """Where cost and tokens come from: the panel's subtitle."""
    events, metrics = usage.source.event_sessions, usage.source.metric_sessions
    if events and metrics:
        return f"api_request events ({events}) + cost.usage metric ({metrics})"
    if metrics:
        return "from claude_code.cost.usage"
    return "from api_request events"


def active_time(seconds: float) -> str:
    """Active time: ``0s`` when there was none, else a duration (``2.72 s``, ``14m 28s``)."""
    return "0s" if seconds <= 0 else fmt.duration_ms(seconds * 1000)


def _printable(value: object) -> str:
    return fmt.printable("" if value is None else str(value))


class CostPanel(Panel):
    """Total cost, burn rates, a graph of spend over time, and cost by model."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Cost", **kwargs)
        self.now_ns = 0
        self.spark_height = 3

    def set_now(self, now_ns: int) -> None:
        """Move the burn-rate windows to ``now_ns`` (no new query needed)."""
        before = self._rates_shown()
        self.now_ns = now_ns
        # Redrawn only when a rate on screen changes: an idle dashboard stays idle.
        if self._rates_shown() != before:
            self.refresh()

    def _rates_shown(self) -> tuple[str, ...]:
        data: Overview | None = self.data
        if data is None:
            return ()
        return tuple(
            fmt.rate_per_hour(rate) for rate in burn_rates(data.recent, self.now_ns or data.now_ns)
        )

    def subtitle(self, data: Overview) -> str:
        return source_label(data.usage) if data.usage.by_model else ""

    def render_data(self, data: Overview) -> RenderableType:
        usage = data.usage
        width = self.inner_width
        total = usage.total.cost_usd
        five, sixty = burn_rates(data.recent, self.now_ns or data.now_ns)

        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(fmt.money(total), style=self.style("strong"))
        head.append(" total", style=self.style("label"))
        rates = Text(no_wrap=True)
        rates.append("5m ", style=self.style("label"))
        rates.append(fmt.rate_per_hour(five), style=self.style("value"))
        rates.append("  1h ", style=self.style("label"))
        rates.append(fmt.rate_per_hour(sixty), style=self.style("value"))
        lines: list[RenderableType] = []
        gap = width - head.cell_len - rates.cell_len
        if gap < 2 and gap + len(" total") >= 2:
            head = Text(fmt.money(total), style=self.style("strong"), no_wrap=True)
            gap = width - head.cell_len - rates.cell_len
        if gap >= 2:
            head.append(" " * gap)
            head.append_text(rates)
            lines.append(head)
        else:
            lines += [head, rates]

        series = data.timeline
        for row in spark_rows(series.values, width, self.spark_height):
            lines.append(self.text(row, "spark"))
        lines.append(self._axis(series, data.now_ns, width))

        if not usage.by_model:
            lines.append(self.text("no priced requests yet", "muted"))
            return Group(*lines)
        rows = []
        for model in usage.by_model[:MAX_MODELS]:
            share = model.cost_usd / total if total > 0 else None
            rows.append(
                [
                    self.text(_printable(model.model or "(no model)"), "label"),
                    self.text(fmt.money(model.cost_usd)),
                    self.text(fmt.percent(share), "muted"),
                    self.meter(share, 12),
                ]
            )
        lines.append(
            self.fitted(
                [
                    Column("model", "left", flex=True),
                    Column("cost"),
                    Column("share"),
                    Column("", "left", drop=1),
                ],
                rows,
            )
        )
        rest = usage.by_model[MAX_MODELS:]
        if rest:
            lines.append(
                self.text(
                    f"+{len(rest)} more models, {fmt.money(sum(m.cost_usd for m in rest))}",
                    "muted",
                )
            )
        return Group(*lines)

    def _axis(self, series: CostSeries, now_ns: int, width: int) -> Text:
        span_s = (series.end_ns - series.start_ns) / NS_PER_S
        if series.end_ns >= now_ns:
            left, right = f"-{span_label(span_s)}", "now"
        else:
            left, right = fmt.clock(series.start_ns), fmt.clock(series.end_ns)
        peak = max(series.values, default=0.0)
        middle = (
            f"peak {fmt.money(peak)} per {span_label(series.bucket_ns / NS_PER_S)}"
            if peak > 0
            else ""
        )
        if len(left) + len(middle) + len(right) + 2 > width:
            middle = ""
        pad = max(1, width - len(left) - len(middle) - len(right))
        axis = Text(no_wrap=True, overflow="ellipsis", style=self.style("muted"))
        axis.append(left)
        axis.append(" " * (pad // 2) + middle + " " * (pad - pad // 2))
        axis.append(right)
        return axis


class TokensPanel(Panel):
    """Tokens by kind, the cache hit ratio, and tokens by model."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Tokens", **kwargs)

    def subtitle(self, data: Overview) -> str:
        return source_label(data.usage) if data.usage.by_model else ""

    def render_data(self, data: Overview) -> RenderableType:
        usage = data.usage
        total = usage.total
        width = self.inner_width
        kinds = self.grid("left", "right", "left", "right")
        kinds.add_row(
            self.text("input", "label"),
            self.text(fmt.compact(total.input_tokens)),
            self.text("cache read", "label"),
            self.text(fmt.compact(total.cache_read_tokens)),
        )
        kinds.add_row(
            self.text("output", "label"),
            self.text(fmt.compact(total.output_tokens)),
            self.text("cache write", "label"),
            self.text(fmt.compact(total.cache_creation_tokens)),
        )
        hit = total.cache_hit_ratio
        ratio = Text(no_wrap=True)
        ratio.append("cache hit ", style=self.style("label"))
        ratio.append(f"{fmt.percent(hit):>5} ", style=self.style("strong"))
        ratio.append_text(self.meter(hit, max(0, min(30, width - 17))))
        lines: list[RenderableType] = [kinds, ratio]
        if not usage.by_model:
            lines.append(self.text("no tokens yet", "muted"))
            return Group(*lines)

        wide = width >= 50
        rows = []
        for model in usage.by_model[:MAX_MODELS]:
            name = self.text(_printable(model.model or "(no model)"), "label")
            hit_cell = self.text(fmt.percent(model.cache_hit_ratio), "muted")
            if wide:
                rows.append(
                    [
                        name,
                        self.text(fmt.compact(model.input_tokens)),
                        self.text(fmt.compact(model.output_tokens)),
                        self.text(fmt.compact(model.cache_read_tokens)),
                        self.text(fmt.compact(model.cache_creation_tokens)),
                        hit_cell,
                    ]
                )
            else:
                rows.append(
                    [
                        name,
                        self.text(fmt.compact(model.input_tokens + model.output_tokens)),
                        self.text(
                            fmt.compact(model.cache_read_tokens + model.cache_creation_tokens)
                        ),
                        hit_cell,
                    ]
                )
        model_column = Column("model", "left", flex=True)
        if wide:
            columns = [model_column] + [
                Column(h) for h in ("input", "output", "c.read", "c.write", "hit")
            ]
        else:
            columns = [model_column, Column("in+out"), Column("cache"), Column("hit")]
        lines.append(self.fitted(columns, rows))
        if len(usage.by_model) > MAX_MODELS:
            lines.append(self.text(f"+{len(usage.by_model) - MAX_MODELS} more models", "muted"))
        return Group(*lines)


class ToolsPanel(Panel):
    """Per tool: calls, failures, success rate, p50/p95 duration, accept/reject decisions."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Tools", **kwargs)

    def subtitle(self, data: Overview) -> str:
        calls = sum(t.calls for t in data.tools)
        return f"{fmt.count(calls)} calls" if calls else ""

    def render_data(self, data: Overview) -> RenderableType:
        tools, decisions = data.tools, data.decisions
        if not tools:
            return self.text("no tool calls yet", "muted")
        width = self.inner_width
        decision_lines = self._decisions(decisions, width)
        room = max(1, self.inner_height - 1 - len(decision_lines))
        shown = tools if len(tools) <= room else tools[: max(1, room - 1)]
        columns = [
            Column("tool", "left", flex=True),
            Column("calls"),
            Column("fail"),
            Column("ok"),
            Column("p50"),
            Column("p95"),
            Column("accept", drop=1),
            Column("reject", drop=1),
        ]
        lines: list[RenderableType] = [self.fitted(columns, [self._row(t) for t in shown])]
        if len(shown) < len(tools):
            lines.append(self.text(f"+{len(tools) - len(shown)} more tools", "muted"))
        lines += decision_lines
        return Group(*lines)

    def _row(self, tool: ToolStats) -> list[Text]:
        rate = tool.success_rate
        rate_kind = "value" if rate is None or rate >= 0.95 else "warn" if rate >= 0.8 else "bad"
        return [
            self.text(_printable(tool.tool_name), "label"),
            self.text(fmt.count(tool.calls)),
            self.text(fmt.count(tool.failures), "bad" if tool.failures else "muted"),
            self.text(fmt.percent(rate), rate_kind),
            self.text(fmt.duration_ms(tool.p50_ms) if tool.calls else "–"),
            self.text(fmt.duration_ms(tool.p95_ms) if tool.calls else "–"),
            self.text(fmt.count(tool.accepts), "good" if tool.accepts else "muted"),
            self.text(fmt.count(tool.rejects), "bad" if tool.rejects else "muted"),
        ]

    def _decisions(self, decisions: tuple[DecisionCount, ...], width: int) -> list[RenderableType]:
        lines: list[RenderableType] = []
        for decision in ("accept", "reject"):
            of_kind = [d for d in decisions if d.decision == decision]
            if not of_kind:
                continue
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{decision}ed ", style=self.style("label"))
            line.append(
                fmt.count(sum(d.count for d in of_kind)),
                style=self.style("good" if decision == "accept" else "bad"),
            )
            line.append("  by ", style=self.style("label"))
            line.append(
                " · ".join(f"{_printable(d.source)} {fmt.count(d.count)}" for d in of_kind),
                style=self.style("muted"),
            )
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        return lines


class ApiPanel(Panel):
    """Requests, errors, retries exhausted, refusals; latency and time to first token."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("API", **kwargs)

    def subtitle(self, data: Overview) -> str:
        return "p50 · p95"

    def render_data(self, data: Overview) -> RenderableType:
        api: ApiHealth = data.api
        rate = fmt.percent(api.error_rate) if api.error_rate else ""
        rows = [
            [
                self.text("requests", "label"),
                self.text(fmt.count(api.requests)),
                self.text(" errors", "label"),
                self.text(fmt.count(api.errors), "bad" if api.errors else "muted"),
                self.text(rate, "muted"),
            ],
            [
                self.text("exhausted", "label"),
                self.text(
                    fmt.count(api.retries_exhausted), "bad" if api.retries_exhausted else "muted"
                ),
                self.text(" refused", "label"),
                self.text(fmt.count(api.refusals), "warn" if api.refusals else "muted"),
                Text(""),
            ],
            [
                self.text("latency", "label"),
                self.text(fmt.duration_ms(api.latency_p50_ms)),
                Text(""),
                self.text(fmt.duration_ms(api.latency_p95_ms)),
                Text(""),
            ],
            [
                self.text("TTFT", "label"),
                self.text(fmt.duration_ms(api.ttft_p50_ms)),
                Text(""),
                self.text(fmt.duration_ms(api.ttft_p95_ms)),
                Text(""),
            ],
        ]
        return self.fitted(
            [Column("", "left"), Column(""), Column("", "left"), Column(""), Column("", drop=1)],
            rows,
            header=False,
        )


class ActivityPanel(Panel):
    """Lines added and removed, commits, pull requests, active time, prompts."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Activity", **kwargs)

    def render_data(self, data: Overview) -> RenderableType:
        act = data.activity
        lines = Text(no_wrap=True)
        lines.append(f"+{fmt.compact(act.lines_added)}", style=self.style("good"))
        lines.append(" ")
        lines.append(f"−{fmt.compact(act.lines_removed)}", style=self.style("bad"))
        rows = [
            [
                self.text("lines", "label"),
                lines,
                self.text("commits", "label"),
                self.text(fmt.compact(act.commits)),
            ],
            [
                self.text("user active", "label"),
                self.text(active_time(act.active_user_s)),
                self.text("PRs", "label"),
                self.text(fmt.compact(act.pull_requests)),
            ],
            [
                self.text("cli active", "label"),
                self.text(active_time(act.active_cli_s)),
                self.text("prompts", "label"),
                self.text(fmt.count(act.prompts)),
            ],
        ]
        return self.fitted(
            [Column("", "left"), Column(""), Column("", "left"), Column("")], rows, header=False
        )


# How each kind of problem is named in the Problems panel.
PROBLEM_KINDS = {
    "api_error": "API error",
    "api_retries_exhausted": "exhausted",
    "api_refusal": "refusal",
    "tool_result": "failed",
    "tool_decision": "rejected",
}


class ProblemsPanel(Panel):
    """The latest failures, newest first, two lines each: what and when, then the message."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Problems", **kwargs)

    def subtitle(self, data: Overview) -> str:
        return "newest first" if data.problems else ""

    def render_data(self, data: Overview) -> RenderableType:
        problems = data.problems
        if not problems:
            return self.text("no failures, errors or rejections", "muted")
        width = self.inner_width
        lines: list[RenderableType] = []
        for problem in problems[: max(1, self.inner_height // 2)]:
            head = Text(no_wrap=True, overflow="ellipsis")
            head.append(fmt.clock(problem.time_ns), style=self.style("muted"))
            head.append(f" {fmt.short_id(problem.session_id)} ", style=self.style("muted"))
            head.append(_printable(problem.subject or ""), style=self.style("label"))
            head.append(
                f" {PROBLEM_KINDS.get(problem.event_name, _printable(problem.event_name))}",
                style=self.style("bad"),
            )
            head.truncate(width, overflow="ellipsis")
            detail = self.text("  " + fmt.printable(fmt.one_line(problem.detail, width - 2)))
            lines += [head, detail]
        return Group(*lines)
