"""Write a generated :class:`~sreworkbook.sandbox.history.History` as OpenMetrics text.

The layout is what ``promtool tsdb create-blocks-from openmetrics`` reads: one ``# HELP`` and
``# TYPE`` per family, each family's lines together, each series' samples contiguous and in
time order, timestamps in seconds, and ``# EOF`` at the end.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np

from sreworkbook.sandbox.history import History, Series

__all__ = ["escape_label", "write_openmetrics"]


def escape_label(value: str) -> str:
    """``value`` escaped for a quoted label value."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(
    history: History, out: TextIO, *, start: int | None = None, end: int | None = None
) -> int:
    """Write the samples of ``history`` in ``[start, end)`` to ``out``; returns their number."""
    common = (("job", history.spec.job), ("instance", history.spec.instance))
    times = history.times
    inside = (times >= (times[0] if start is None else start)) & (
        times < (times[-1] + 1 if end is None else end)
    )
    every_at = np.flatnonzero(inside)
    scraped_at = np.flatnonzero(inside & history.present)
    stamps = [str(int(t)) for t in times[every_at]]
    scraped_stamps = [str(int(t)) for t in times[scraped_at]]
    written = 0
    for family in history.families:
        out.write(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.type}\n")
        for series in sorted(family.series, key=_sort_key):
            labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in (*common, *series.labels))
            prefix = f"{series.name}{{{labels}}} "
            values = series.values[scraped_at if series.scraped else every_at]
            at = scraped_stamps if series.scraped else stamps
            texts = values.astype(np.int64).tolist() if series.integer else values.tolist()
            out.write("".join([f"{prefix}{v} {t}\n" for v, t in zip(texts, at, strict=True)]))
            written += len(at)
    out.write("# EOF\n")
    return written


def _sort_key(series: Series) -> tuple[tuple[tuple[str, str], ...], int, float]:
    """Group a histogram's series by label set: buckets by bound, then ``_count``, ``_sum``."""
    labels = tuple(kv for kv in series.labels if kv[0] != "le")
    le = dict(series.labels).get("le")
    if le is not None:
        return labels, 0, float(le)
    return labels, 1 if series.name.endswith("_count") else 2, 0.0
