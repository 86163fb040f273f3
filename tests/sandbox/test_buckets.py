"""Histogram arithmetic used to plant incidents: Prometheus's quantile rule and calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sreworkbook.sandbox.buckets import (
    bucket_shares,
    calibrate_median,
    draw_buckets,
    histogram_quantile,
    normal_cdf,
)
from sreworkbook.sandbox.model import DB_BUCKETS, HTTP_BUCKETS


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    bounds = (0.1, 0.5, 1.0)
    # 100 observations: 50 ≤ 0.1, 80 ≤ 0.5, 90 ≤ 1, 100 total.
    assert histogram_quantile(0.5, bounds, [50, 80, 90, 100]) == pytest.approx(0.1)
    assert histogram_quantile(0.65, bounds, [50, 80, 90, 100]) == pytest.approx(0.1 + 0.4 * 15 / 30)
    assert histogram_quantile(0.25, bounds, [50, 80, 90, 100]) == pytest.approx(0.05)
    assert histogram_quantile(0.99, bounds, [50, 80, 90, 100]) == 1.0  # in +Inf: top bound
    assert math.isnan(histogram_quantile(0.5, bounds, [0, 0, 0, 0]))


def test_normal_cdf_matches_math_erf() -> None:
    z = np.linspace(-5, 5, 101)
    exact = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    assert np.max(np.abs(normal_cdf(z) - exact)) < 2e-7


def test_bucket_shares_sum_to_one() -> None:
    shares = bucket_shares(HTTP_BUCKETS, np.array([0.1, 2.0]), np.array([0.5, 0.5]))
    assert shares.shape == (2, len(HTTP_BUCKETS) + 1)
    assert np.allclose(shares.sum(axis=1), 1.0)


@pytest.mark.parametrize(("bounds", "target"), [(HTTP_BUCKETS, 3.5), (DB_BUCKETS, 1.5)])
def test_calibrated_median_hits_the_bucketed_quantile(
    bounds: tuple[float, ...], target: float
) -> None:
    median = calibrate_median(0.95, target, 0.5, bounds)
    shares = bucket_shares(bounds, np.array([median]), np.array([0.5]))[0]
    assert histogram_quantile(0.95, bounds, np.cumsum(shares).tolist()) == pytest.approx(
        target, rel=1e-3
    )


def test_draw_buckets_is_cumulative_and_counts_everything() -> None:
    rng = np.random.default_rng(1)
    counts = np.array([0, 10, 1000], dtype=np.int64)
    by_le, sums = draw_buckets(rng, counts, HTTP_BUCKETS, np.full(3, 0.1), np.full(3, 0.5))
    assert by_le[:, -1].tolist() == [0, 10, 1000]
    assert np.all(np.diff(by_le, axis=1) >= 0)
    assert sums[0] == 0 and sums[2] > sums[1] > 0
