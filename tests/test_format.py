"""Formatting for people, and the guard against control characters."""

from __future__ import annotations

import pytest

from otelwatch.tui import format as fmt


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (0, "$0.00"),
        (0.3512, "$0.35"),
        (0.0012345, "$0.0012"),
        (12.5, "$12.50"),
        (12345.6, "$12,346"),
        (None, "–"),
    ],
)
def test_money(usd: float | None, text: str) -> None:
    assert fmt.money(usd) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (950, "950"),
        (1000, "1.00k"),
        (62_400, "62.4k"),
        (1_234_567, "1.23M"),
        (999_999, "1000k"),
        (2.5, "2.5"),
    ],
)
def test_compact(n: float, text: str) -> None:
    assert fmt.compact(n) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0.5, "0.50 ms"),
        (850, "850 ms"),
        (2500, "2.50 s"),
        (42_000, "42.0 s"),
        (65_000, "1m 05s"),
        (7_380_000, "2h 03m"),
    ],
)
def test_duration(ms: float, text: str) -> None:
    assert fmt.duration_ms(ms) == text


def test_age() -> None:
    now = 10_000 * fmt.NS_PER_S
    assert fmt.age(now, now) == "now"
    assert fmt.age(now - 42 * fmt.NS_PER_S, now) == "42s ago"
    assert fmt.age(now - 3 * 60 * fmt.NS_PER_S, now) == "3m ago"
    assert fmt.age(now - 2 * 3600 * fmt.NS_PER_S, now) == "2h ago"


def test_percent() -> None:
    assert fmt.percent(0.42) == "42%"
    assert fmt.percent(0.995) == "99.5%"
    assert fmt.percent(1.0) == "100%"
    assert fmt.percent(0.05) == "5.0%"


def test_printable_replaces_every_control_character() -> None:
    text = "".join(chr(c) for c in range(0xA0))
    shown = fmt.printable(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in shown)
    assert fmt.printable("a\x1b[2Jb") == "a␛[2Jb"


def test_literal_is_not_markup() -> None:
    text = fmt.literal("[bold]x[/bold]")
    assert text.plain == "[bold]x[/bold]"
    assert not text.spans


def test_short_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ada")
    assert fmt.short_path("/home/ada/.local/share/otelwatch/otelwatch.duckdb", 60) == (
        "~/.local/share/otelwatch/otelwatch.duckdb"
    )
    assert (
        fmt.short_path("/tmp/otelwatch-demo-x3lwma65/demo.duckdb", 32)
        == "/tmp/otelwatch-demo…/demo.duckdb"
    )
    assert fmt.short_path(":memory:") == ":memory:"
    assert len(fmt.short_path("/a" * 40 + "/x.duckdb", 20)) <= 20
