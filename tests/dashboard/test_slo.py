"""SLO arithmetic against hand-computed cases."""

from __future__ import annotations

import pytest

from sreworkbook.config import SLOConfig
from sreworkbook.dashboard.slo import evaluate_slo
from sreworkbook.results import Status
from sreworkbook.sources.panels import WindowCounts

AVAILABILITY = SLOConfig(name="availability", kind="availability", objective=0.999)
LATENCY = SLOConfig(name="latency", kind="latency", objective=0.95, threshold_s=2.0)


def test_half_the_budget_spent() -> None:
    # 1,000,000 requests, 500 failed: 0.05 % bad of a 0.1 % budget → half left.
    result = evaluate_slo(AVAILABILITY, WindowCounts(1_000_000, 500), WindowCounts(40_000, 20))
    assert result.compliance == pytest.approx(0.9995)
    assert result.budget_left == pytest.approx(0.5)
    assert result.burn_rate_now == pytest.approx(0.5)  # 20/40,000 = 0.05 % → 0.5× the budget rate
    assert result.status is Status.OK


def test_overspent_budget_is_crit() -> None:
    result = evaluate_slo(AVAILABILITY, WindowCounts(100_000, 300), WindowCounts(4_000, 0))
    assert result.budget_left == pytest.approx(-2.0)
    assert result.status is Status.CRIT


def test_fast_burn_pages_even_with_budget_left() -> None:
    # Last hour: 60 failures of 4,000 = 1.5 % → 15× the 0.1 % budget rate (≥ 14.4).
    result = evaluate_slo(AVAILABILITY, WindowCounts(1_000_000, 100), WindowCounts(4_000, 60))
    assert result.burn_rate_now == pytest.approx(15.0)
    assert result.budget_left == pytest.approx(0.9)
    assert result.status is Status.CRIT


def test_slow_burn_warns() -> None:
    result = evaluate_slo(AVAILABILITY, WindowCounts(1_000_000, 100), WindowCounts(10_000, 20))
    assert result.burn_rate_now == pytest.approx(2.0)
    assert result.status is Status.WARN


def test_latency_slo_counts_slow_requests() -> None:
    # 95 % under 2 s; 10,000 requests, 9,700 fast → 3 % slow of a 5 % budget → 40 % left.
    result = evaluate_slo(
        LATENCY, WindowCounts(10_000, 0, fast=9_700), WindowCounts(500, 0, fast=480)
    )
    assert result.bad == 300
    assert result.compliance == pytest.approx(0.97)
    assert result.budget_left == pytest.approx(0.4)
    assert result.burn_rate_now == pytest.approx(0.8)  # 20/500 = 4 % of a 5 % budget


def test_no_traffic_is_unknown() -> None:
    result = evaluate_slo(AVAILABILITY, WindowCounts(0, 0), WindowCounts(0, 0))
    assert result.status is Status.UNKNOWN and result.compliance is None
    assert "no requests" in result.note
