"""Window parameters, period comparison and the status rules, with a scripted backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from sreworkbook.config import SLOConfig, Thresholds
from sreworkbook.dashboard import (
    PANELS,
    WindowCounts,
    assess,
    compare_offset,
    load_dashboard,
    resolve_window,
)
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.results import Status
from sreworkbook.sources.panels import empty_frame
from support.contract import DASHBOARD_METRICS

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_window_from_duration_and_auto_step() -> None:
    span = resolve_window(start="", end="", window="24h", step="auto", now=NOW)
    assert span.end == NOW and span.start == NOW - timedelta(hours=24)
    assert span.step_s == 300  # about 300 points, rounded to whole minutes


def test_explicit_start_end_wins() -> None:
    span = resolve_window(
        start="2026-11-01T00:00:00Z", end="2026-11-02T00:00:00Z", window="1h", step="1m", now=NOW
    )
    assert span.seconds == 86400 and span.step_s == 60


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "start"),
        ({"window": "24x"}, "window"),
        ({"step": "1s", "window": "30d"}, "step"),
        ({"end": "yesterday"}, "end"),
        ({"step": "soon"}, "step"),
    ],
)
def test_bad_window_parameters_name_the_parameter(kwargs: dict[str, str], key: str) -> None:
    args = {"start": "", "end": "", "window": "24h", "step": "auto", **kwargs}
    with pytest.raises(ParameterError) as info:
        resolve_window(now=NOW, **args)
    assert info.value.key == key


def test_compare_offset() -> None:
    day = resolve_window(start="", end="", window="24h", step="auto", now=NOW)
    month = resolve_window(start="", end="", window="30d", step="auto", now=NOW)
    assert compare_offset("auto", day) == timedelta(days=7)
    assert compare_offset("auto", month) == timedelta(days=30)
    assert compare_offset("1d", day) == timedelta(days=1)


class Scripted:
    """A backend answering constant panels; ``broken`` panels raise like a failing server."""

    name = "scripted"

    def __init__(self, overall: dict[str, float], broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self._overall = overall
        self._broken = broken

    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        if panel in self._broken:
            raise SourceError("HTTP 503 after 4 attempts", source="scripted", query=panel)
        times = pd.date_range(start, end, freq=f"{int(step_s)}s", tz=UTC)
        series = ["/api/trades", "/api/users"] if panel.startswith("route_") else ["all"]
        rows = [
            {"timestamp": t, "series": s, "value": 2.0 if s == "/api/trades" else 1.0}
            for t in times
            for s in series
        ]
        return pd.DataFrame(rows) if rows else empty_frame()

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        return self._overall.get(panel)

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        if "counts" in self._broken:
            raise SourceError("HTTP 503 after 4 attempts", source="scripted", query="counts")
        return WindowCounts(total=100_000, failed=50, fast=99_000)


GOOD = {
    "latency_p50": 80,
    "latency_p95": 400,
    "latency_p99": 900,
    "error_rate": 0.004,
    "rpm": 600,
    "db_p95": 30,
    "mem_pct": 55,
    "cpu_pct": 35,
    "active_users": 120,
    "lcp_p75": 1800,
    "inp_p75": 150,
    "cls_p75": 0.05,
}


def _load(overall: dict[str, float], broken: set[str] = frozenset()):  # type: ignore[no-untyped-def,assignment]
    span = resolve_window(start="", end="", window="6h", step="5m", now=NOW)
    slos = [SLOConfig(name="availability", kind="availability", objective=0.999)]
    return load_dashboard(Scripted(overall, broken), span, slos=slos)


def test_healthy_window_is_ok_with_the_contract_metrics() -> None:
    status, headline, metrics, findings = assess(_load(GOOD), Thresholds())
    assert status is Status.OK, findings
    for key in DASHBOARD_METRICS:
        assert key in metrics
    assert metrics["availability"] == pytest.approx(0.9995)
    assert metrics["budget_left"] == pytest.approx(0.5)
    assert headline.startswith("Last 6 h: availability 99.950%")


def test_seed_thresholds() -> None:
    status, _, _, findings = assess(_load({**GOOD, "error_rate": 0.06}), Thresholds())
    assert status is Status.CRIT and findings[0].title == "Error rate above threshold"
    status, _, _, _ = assess(_load({**GOOD, "latency_p95": 2500}), Thresholds())
    assert status is Status.WARN
    status, _, _, _ = assess(_load({**GOOD, "mem_pct": 93}), Thresholds())
    assert status is Status.CRIT


def test_failing_panel_is_unknown_not_a_crash() -> None:
    data = _load(GOOD, broken={"db_p95"})
    assert data.panels["db_p95"].empty
    status, _, _, findings = assess(data, Thresholds())
    assert status is Status.UNKNOWN
    assert any(f.title == "No data for db_p95" and "HTTP 503" in f.detail for f in findings)


def test_unreadable_request_metrics_say_so_in_the_headline() -> None:
    broken = {"latency_p95", "error_rate", "route_errors"}
    no_requests = {k: v for k, v in GOOD.items() if k not in ("latency_p95", "error_rate")}
    status, headline, _, findings = assess(_load(no_requests, broken=broken), Thresholds())
    assert status is Status.UNKNOWN
    # one cause, one finding naming the panels (not one per panel and period)
    assert [(f.title, f.detail) for f in findings if f.severity is Status.UNKNOWN] == [
        (
            "No data for 3 panels (error_rate, latency_p95, route_errors)",
            "scripted: HTTP 503 after 4 attempts",
        )
    ]
    total = len(PANELS) + 2  # the route panels
    assert headline == (
        f"Could not read request metrics from scripted ({total - 3} of {total} panels drawn): "
        "HTTP 503 after 4 attempts"
    )
    _, quiet, _, _ = assess(_load(no_requests), Thresholds())
    assert quiet == "No request metrics from scripted for the last 6 h."


def test_a_dead_server_is_one_finding_for_its_panels_and_one_per_slo() -> None:
    _, _, _, findings = assess(_load({}, broken={*PANELS, "counts"}), Thresholds())
    titles = [f.title for f in findings if f.severity is Status.UNKNOWN]
    assert titles == [
        "SLO availability not computed",
        f"No data for {len(PANELS)} panels (active_users, cls_p75, cpu_pct, db_p95, error_rate, "
        "inp_p75, …)",
    ]


def test_top_routes_and_all_panels_loaded() -> None:
    data = _load(GOOD)
    assert set(PANELS) <= set(data.panels)
    top = data.top_routes()
    assert list(top.index) == ["/api/trades", "/api/users"]
