"""What the run contract promises readers of a notebook's summary, for the tests that check it."""

from __future__ import annotations

__all__ = ["DASHBOARD_METRICS"]

#: The metrics dashboard's summary numbers (README, "The notebooks"; the index's sparklines).
DASHBOARD_METRICS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_rate",
    "rpm",
    "db_p95_ms",
    "mem_pct",
    "cpu_pct",
    "active_users",
    "availability",
    "budget_left",
)
