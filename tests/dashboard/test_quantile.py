"""histogram_quantile against hand-computed cases (Prometheus's documented behaviour)."""

from __future__ import annotations

import math

import pytest

from sreworkbook.dashboard.quantile import histogram_quantile

INF = math.inf
# 100 observations: 10 ≤ 0.1 s, 60 ≤ 0.5 s, 90 ≤ 1 s, 99 ≤ 2 s, all ≤ +Inf.
BUCKETS = [(0.1, 10), (0.5, 60), (1.0, 90), (2.0, 99), (INF, 100)]


def test_interpolates_inside_the_bucket() -> None:
    # p50: rank 50 lies in (0.1, 0.5] holding 50 obs from 10 → 0.1 + 0.4 · 40/50 = 0.42
    assert histogram_quantile(0.5, BUCKETS) == pytest.approx(0.42, rel=1e-12)
    # p95: rank 95 in (1, 2] holding 9 from 90 → 1 + 1 · 5/9
    assert histogram_quantile(0.95, BUCKETS) == pytest.approx(1 + 5 / 9, rel=1e-12)
    # p05: first bucket interpolates from 0 → 0.1 · 5/10
    assert histogram_quantile(0.05, BUCKETS) == pytest.approx(0.05, rel=1e-12)


def test_rank_in_inf_bucket_returns_highest_finite_bound() -> None:
    assert histogram_quantile(0.995, BUCKETS) == 2.0


def test_edge_cases() -> None:
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0), (INF, 0)]))  # no observations
    assert math.isnan(histogram_quantile(0.5, [(0.1, 3), (1.0, 5)]))  # no +Inf bucket
    assert histogram_quantile(-0.1, BUCKETS) == -INF
    assert histogram_quantile(1.1, BUCKETS) == INF
    # Non-monotonic counts (a scrape race) are forced monotonic, as Prometheus does.
    # 8 becomes 10; rank 10 is reached at the first bucket → its upper bound.
    assert histogram_quantile(0.5, [(0.1, 10), (0.5, 8), (1.0, 20), (INF, 20)]) == pytest.approx(
        0.1
    )
    assert histogram_quantile(0.75, [(0.1, 10), (0.5, 8), (1.0, 20), (INF, 20)]) == pytest.approx(
        0.75
    )
    # Buckets given twice (two series summed) merge by bound.
    doubled = BUCKETS + BUCKETS
    assert histogram_quantile(0.5, doubled) == pytest.approx(0.42, rel=1e-12)
