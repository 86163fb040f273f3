"""Prometheus's ``histogram_quantile``, reimplemented to check and explain the dashboards.

Same algorithm as Prometheus's ``bucketQuantile`` (promql/quantile.go): buckets sorted by
upper bound, equal bounds merged, counts forced monotonic, the rank ``q · total`` located and
linearly interpolated inside its bucket (from 0 for the first bucket); a rank in the +Inf
bucket answers the highest finite bound.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

__all__ = ["histogram_quantile"]


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The ``q``-quantile of cumulative ``(upper_bound, count)`` buckets, as Prometheus does."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    ordered = sorted(merged.items())
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    bounds = [b for b, _ in ordered]
    counts = []
    highest = -math.inf
    for _, count in ordered:  # ensureMonotonic
        highest = max(highest, count)
        counts.append(highest)
    if len(counts) < 2 or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    index = bisect.bisect_left(counts, rank, hi=len(counts) - 1)
    if index == len(counts) - 1:
        return bounds[-2]
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[index], counts[index]
    if index > 0:
        start = bounds[index - 1]
        count -= counts[index - 1]
        rank -= counts[index - 1]
    return start + (end - start) * (rank / count)
