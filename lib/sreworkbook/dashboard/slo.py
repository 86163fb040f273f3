"""SLO arithmetic: compliance, error budget left, burn rate.

For an objective ``o`` (say 0.999) the error budget is ``1 - o`` of the requests. Over a window
with ``total`` requests of which ``bad`` missed the objective:

- compliance    = 1 - bad / total
- budget_left   = 1 - (bad / total) / (1 - o)      (1 untouched, 0 spent, < 0 overspent)
- burn rate     = (bad / total over the last hour) / (1 - o)   (1 spends the budget exactly
  in the SLO period; 14.4 spends a 30-day budget's 2 % in one hour — the page threshold)
"""

from __future__ import annotations

from dataclasses import dataclass

from sreworkbook.config import SLOConfig
from sreworkbook.results import Status
from sreworkbook.sources.panels import WindowCounts

__all__ = ["PAGE_BURN_RATE", "SLOResult", "evaluate_slo"]

#: The SRE Workbook's fast-burn page threshold for a 30-day SLO (2 % of budget in 1 h).
PAGE_BURN_RATE = 14.4


@dataclass(frozen=True)
class SLOResult:
    """An SLO over the dashboard's window, and its burn over the last hour."""

    name: str
    kind: str
    objective: float
    total: float
    bad: float
    compliance: float | None
    budget_left: float | None
    burn_rate_now: float | None
    status: Status
    note: str = ""


def _bad(counts: WindowCounts, slo: SLOConfig) -> float | None:
    if slo.kind == "availability":
        return counts.failed
    if counts.fast is None:
        return None
    return max(counts.total - counts.fast, 0.0)


def evaluate_slo(slo: SLOConfig, window: WindowCounts, last_hour: WindowCounts) -> SLOResult:
    """``slo`` judged on ``window``'s counts; the burn rate now from ``last_hour``'s.

    Status: CRIT when the budget is overspent or burning at the page rate, WARN when under a
    quarter of the budget is left or it burns faster than it refills, UNKNOWN without traffic.
    """
    budget = 1.0 - slo.objective
    bad = _bad(window, slo)
    if window.total <= 0 or bad is None:
        note = (
            "no requests in the window"
            if window.total <= 0
            else "no latency bucket at the threshold"
        )
        return SLOResult(
            slo.name,
            slo.kind,
            slo.objective,
            window.total,
            bad or 0.0,
            None,
            None,
            None,
            Status.UNKNOWN,
            note,
        )
    ratio = bad / window.total
    budget_left = 1.0 - ratio / budget
    recent_bad = _bad(last_hour, slo)
    burn = (
        (recent_bad / last_hour.total) / budget
        if recent_bad is not None and last_hour.total > 0
        else None
    )
    if budget_left < 0 or (burn is not None and burn >= PAGE_BURN_RATE):
        status = Status.CRIT
    elif budget_left < 0.25 or (burn is not None and burn > 1.0):
        status = Status.WARN
    else:
        status = Status.OK
    return SLOResult(
        slo.name,
        slo.kind,
        slo.objective,
        window.total,
        bad,
        1.0 - ratio,
        budget_left,
        burn,
        status,
    )
