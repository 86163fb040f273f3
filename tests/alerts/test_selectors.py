"""What a PromQL expression reads: selectors and look-back."""

from __future__ import annotations

from pathlib import Path

import pytest

from sreworkbook.alerts import load_rules
from sreworkbook.alerts.selectors import LOOKBACK_MS, PromQLUnsupported, lead_ms, selectors

M = 60_000
ROOT = Path(__file__).resolve().parents[2]


def test_selectors_skip_functions_groupings_ranges_and_strings() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (job, le) (rate(x_bucket{job="a",le=~"[0-9]+"}[5m])))'
        ' / on(job) group_left(team) y offset 1h + {__name__="z"} and vector(1)'
        ' or label_replace(w, "dst", "$1", "src", "(.*)") > bool 0'
    )
    assert selectors(expr) == ['x_bucket{job="a",le=~"[0-9]+"}', "y", '{__name__="z"}', "w"]
    assert selectors("sum without (instance) (up)") == ["up"]
    assert selectors("count(a) # a comment with b{c}") == ["a"]


def test_lead_is_the_longest_range_or_all_of_a_subquery_plus_offsets_and_lookback() -> None:
    assert lead_ms("up") == LOOKBACK_MS
    assert lead_ms('rate(a{x=~"[45].."}[5m]) / rate(b[1h])') == LOOKBACK_MS + 60 * M
    assert lead_ms("max_over_time(rate(a[5m])[1h:1m]) offset 10m") == LOOKBACK_MS + 75 * M
    with pytest.raises(PromQLUnsupported, match="@"):
        lead_ms("a @ 100")
    with pytest.raises(PromQLUnsupported, match="negative offset"):
        lead_ms("a offset -5m")


def test_the_seed_rules() -> None:
    rules = load_rules(ROOT / "parameters" / "alerts.yaml")
    assert selectors(rules.get("HighErrorRate").signal) == [
        'http_request_duration_seconds_count{job="tradeai-backend",status_code=~"5.."}',
        'http_request_duration_seconds_count{job="tradeai-backend"}',
    ]
    assert lead_ms(rules.get("HighMemoryUsage").signal) == LOOKBACK_MS
    assert lead_ms(rules.get("SLOAvailabilityBurnRateTicket").signal) == 3 * 1440 * M + LOOKBACK_MS
