"""Histogram arithmetic for the generated history: log-normal bucket shares, drawing bucket
counts, Prometheus's ``histogram_quantile`` and calibrating a distribution to hit a quantile."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "BoolArray",
    "FloatArray",
    "IntArray",
    "bucket_shares",
    "calibrate_median",
    "draw_buckets",
    "histogram_quantile",
    "normal_cdf",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def normal_cdf(z: FloatArray) -> FloatArray:
    """Φ(z) element-wise (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-x * x)
    return np.asarray(0.5 * (1.0 + np.sign(z) * erf), dtype=np.float64)


def bucket_shares(bounds: Sequence[float], median: FloatArray, sigma: FloatArray) -> FloatArray:
    """Share of a log-normal(median, sigma) in each bucket interval, +Inf last: shape (n, k+1)."""
    logs = np.log(np.asarray(bounds, dtype=np.float64))
    z = (logs[None, :] - np.log(median)[:, None]) / sigma[:, None]
    cdf = normal_cdf(z)
    edges = np.concatenate([np.zeros((len(median), 1)), cdf, np.ones((len(median), 1))], axis=1)
    shares = np.clip(np.diff(edges, axis=1), 0.0, None)
    return np.asarray(shares / shares.sum(axis=1, keepdims=True), dtype=np.float64)


def draw_buckets(
    rng: np.random.Generator,
    counts: IntArray,
    bounds: Sequence[float],
    median: FloatArray,
    sigma: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """Per-step observations split over buckets, and their sum.

    Returns cumulative-by-``le`` counts of shape (n, k+1) (the last column is the count) and
    the per-step sum of observed values (the log-normal mean times the count, with noise).
    """
    shares = bucket_shares(bounds, median, sigma)
    per_bucket = rng.multinomial(counts, shares)
    by_le = np.cumsum(per_bucket, axis=1).astype(np.int64)
    mean = median * np.exp(sigma * sigma / 2)
    noise = rng.normal(1.0, 0.04, size=len(counts)).clip(0.8, 1.2)
    return by_le, np.asarray(counts * mean * noise, dtype=np.float64)


def histogram_quantile(q: float, bounds: Sequence[float], by_le: Sequence[float]) -> float:
    """Prometheus's ``histogram_quantile`` for one set of cumulative bucket counts.

    ``by_le`` holds the count at or below each bound in ``bounds`` and then the total (+Inf).
    Interpolates linearly inside the bucket, as Prometheus does; NaN when there is no data.
    """
    total = float(by_le[-1])
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, by_le, strict=False):
        if count >= rank:
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, float(count)
    return float(bounds[-1])  # the quantile is in the +Inf bucket: Prometheus answers the top bound


def calibrate_median(q: float, target: float, sigma: float, bounds: Sequence[float]) -> float:
    """The log-normal median whose bucketed ``q`` quantile (as Prometheus computes it) is
    ``target``, for spread ``sigma``: bisection on the log of the median."""
    lo, hi = math.log(min(bounds) / 100), math.log(max(bounds) * 10)
    sig = np.array([sigma])
    for _ in range(80):
        mid = (lo + hi) / 2
        shares = bucket_shares(bounds, np.array([math.exp(mid)]), sig)[0]
        got = histogram_quantile(q, bounds, np.cumsum(shares).tolist())
        lo, hi = (mid, hi) if got < target else (lo, mid)
    return math.exp((lo + hi) / 2)
