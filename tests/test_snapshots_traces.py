"""SVG snapshots of the Traces view and the waterfall, on fixed data and a fixed clock.

The data: the recorded Claude Code session and hand-built turns (a long one with a sub-agent
and a failed tool, one whose root span has not arrived). Not the simulator: a change to it
would change every picture. Update the pictures with
``pytest tests/test_snapshots_traces.py --snapshot-update`` and look at them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from otlp_clients import recorded
from textual.pilot import Pilot
from trace_builders import (
    agent_turn,
    events_request,
    hex_id,
    settle,
    spans_request,
    turn,
    turn_events,
)
from tui_harness import RECORDED_NOW_NS, store_with

from otelwatch.store.reader import Reader
from otelwatch.tui.app import OtelwatchApp
from otelwatch.tui.header import AppInfo
from otelwatch.tui.views.traces import TracesView

Snap = Callable[..., bool]

# The long turn: a sub-agent, a failed tool, waits for the user.
AGENT_TRACE = hex_id(0xB7, 16)


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    requests: list[tuple[str, str, bytes]] = [
        (r.signal, "protobuf", r.body) for r in recorded("grpc")
    ]
    requests.append(
        (
            "traces",
            "protobuf",
            spans_request(
                turn(0xA1, session="5e55a1") + turn(0xA2, start_ms=3000, base=10, session="5e55a1")
            ),
        )
    )
    requests.append(
        (
            "logs",
            "protobuf",
            events_request(
                turn_events(
                    0xA1, prompt="why does the ledger test fail on CI only?", session="5e55a1"
                )
                + turn_events(
                    0xA2, prompt="<REDACTED>", start_ms=3000, base=10, session="5e55a1", seq=10
                )
            ),
        )
    )
    # A trace whose root span has not arrived.
    requests.append(
        (
            "traces",
            "protobuf",
            spans_request(turn(0xA3, start_ms=9000, base=20, session="5e55a1")[1:4]),
        )
    )
    agent = agent_turn(0xB7, session="5e55a1", start_ms=20_000)
    # Exported as Claude Code does: children before their parents.
    requests.append(("traces", "protobuf", spans_request(agent[1:])))
    requests.append(("traces", "protobuf", spans_request(agent[:1])))
    return store_with(tmp_path_factory.mktemp("snap") / "snap.duckdb", requests)


def make_app(reader: Reader) -> OtelwatchApp:
    return OtelwatchApp(
        reader,
        AppInfo(db_label="otelwatch.duckdb", read_only=True),
        clock=lambda: RECORDED_NOW_NS,
        start_view="3",
    )


async def wait(pilot: Pilot[Any]) -> None:
    await settle(pilot.app, pilot)


def open_trace(trace_id: str, *keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run(pilot: Pilot[Any]) -> None:
        await wait(pilot)
        view = pilot.app.query_one(TracesView)
        view.open_trace(trace_id)
        await wait(pilot)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(0.3)
            await wait(pilot)

    return run


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_trace_list(snap_compare: Snap, reader: Reader, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(reader), terminal_size=size, run_before=wait)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_waterfall(snap_compare: Snap, reader: Reader, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(reader), terminal_size=size, run_before=open_trace(AGENT_TRACE))


def test_waterfall_critical_path_and_detail(snap_compare: Snap, reader: Reader) -> None:
    run = open_trace(hex_id(0xA1, 16), "c", "j", "j", "j", "j", "enter")
    assert snap_compare(make_app(reader), terminal_size=(120, 40), run_before=run)


def test_waterfall_of_a_trace_without_root(snap_compare: Snap, reader: Reader) -> None:
    run = open_trace(hex_id(0xA3, 16))
    assert snap_compare(make_app(reader), terminal_size=(80, 24), run_before=run)
