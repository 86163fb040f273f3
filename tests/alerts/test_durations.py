"""Prometheus durations: the same grammar as Prometheus, and back."""

from __future__ import annotations

import pytest

from sreworkbook.alerts.durations import format_duration_ms, parse_duration_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("0", 0),
        (0, 0),
        ("0s", 0),
        ("15s", 15_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1d", 86_400_000),
        ("2w", 14 * 86_400_000),
        ("1y", 365 * 86_400_000),
        ("1s500ms", 1_500),
        ("250ms", 250),
    ],
)
def test_parses_prometheus_durations(text: str | int, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["5x", "", "1.5m", "-1m", "m5", "5", 5, "30m1h", "1h 30m", True])
def test_rejects_what_prometheus_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms(text)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (90_000, "1m30s"),
        (1_500, "1s500ms"),
        (7 * 86_400_000, "1w"),
        (8 * 86_400_000, "8d"),
    ],
)
def test_formats_as_prometheus_does(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text
    assert parse_duration_ms(text) == ms
