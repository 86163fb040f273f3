"""The TradeAI traffic model shared by the backfilled history and the live demo API.

Both draw from the same routes, database operations, pages, bucket layouts and daily/weekly
load cycle, so the live metrics continue the history without a visible seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "API_VERSION",
    "BASE_ERROR_RATIO",
    "BASE_RPS",
    "CLS_BUCKETS",
    "COMPONENTS",
    "DB_BUCKETS",
    "DB_OPS",
    "HTTP_BUCKETS",
    "INP_BUCKETS",
    "LCP_BUCKETS",
    "PAGES",
    "ROUTES",
    "SERVICE",
    "DbOp",
    "Route",
    "load_factor",
]

#: The version the demo API reports.
API_VERSION = "2.15.0"
#: ``service`` field of every Winston log line.
SERVICE = "tradeai-backend"
#: Average requests per second across all routes (the load factor averages about 1).
BASE_RPS = 10.0
#: Share of requests that fail on a normal day: inside a 99.9 % availability SLO.
BASE_ERROR_RATIO = 0.0004
#: Components whose health the demo API reports, as named by the fault switch.
COMPONENTS = ("mongodb", "redis", "ai")

HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
DB_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LCP_BUCKETS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
INP_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
CLS_BUCKETS = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5)


@dataclass(frozen=True)
class DbOp:
    """One MongoDB operation on one collection, with its typical duration."""

    operation: str
    collection: str
    median_s: float
    sigma: float = 0.7


DB_OPS = (
    DbOp("find", "trades", 0.012),
    DbOp("aggregate", "trades", 0.035),
    DbOp("find", "customers", 0.008),
    DbOp("find", "promotions", 0.004),
    DbOp("findOne", "users", 0.003),
    DbOp("insertOne", "audit_logs", 0.005),
)


@dataclass(frozen=True)
class Route:
    """An API route: its share of traffic, latency and the database work each request does.

    ``db`` pairs an index into :data:`DB_OPS` with the queries of that kind per request.
    """

    method: str
    path: str
    share: float
    median_s: float
    sigma: float
    db: tuple[tuple[int, float], ...]
    uses_ai: bool = False


ROUTES = (
    Route("GET", "/api/trades", 0.45, 0.085, 0.55, ((0, 1.0), (1, 0.3))),
    Route("GET", "/api/customers", 0.20, 0.065, 0.5, ((2, 1.0),)),
    Route("GET", "/api/promotions", 0.12, 0.045, 0.5, ((3, 1.0),)),
    Route("POST", "/api/auth/login", 0.13, 0.160, 0.45, ((4, 1.0), (5, 1.0))),
    Route("POST", "/api/ai/forecast", 0.10, 0.420, 0.5, ((0, 1.0), (5, 1.0)), uses_ai=True),
)

#: Front-end pages reporting Core Web Vitals.
PAGES = ("/dashboard", "/trades", "/customers")


def load_factor(epoch_s: float) -> float:
    """Relative traffic at ``epoch_s`` (UTC): a daily cycle peaking at 15:00, quieter weekends.

    Averages about 1 over a week; ranges from about 0.3 (Sunday night) to 1.6 (weekday peak).
    """
    hour = (epoch_s % 86_400) / 3_600
    daily = 0.4 + 0.6 * (1 - math.cos(2 * math.pi * (hour - 3) / 24)) / 2
    weekday = int(epoch_s // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weekly = (1.12, 1.12, 1.12, 1.12, 1.08, 0.72, 0.6)[weekday]
    return daily * weekly / 0.7
