"""The history generator: the planted incidents show the intended numbers in the samples."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from sreworkbook.known_incidents import Incident
from sreworkbook.sandbox.buckets import histogram_quantile
from sreworkbook.sandbox.history import History, HistorySpec, Series, generate
from sreworkbook.sandbox.incidents import anchor_for, incidents_for, ramp_start
from sreworkbook.sandbox.model import DB_BUCKETS, DB_OPS, HTTP_BUCKETS, ROUTES

NOW = datetime(2026, 11, 28, 9, 41, 17, tzinfo=UTC)


@pytest.fixture(scope="module")
def history() -> History:
    spec = HistorySpec.ending_now(
        NOW, job="tradeai-backend", instance="127.0.0.1:18080", days=12, step=60
    )
    return generate(spec)


def incident(history: History, kind: str) -> Incident:
    return next(i for i in history.incidents if i.kind == kind)


def increase(series: Series, window: np.ndarray) -> float:
    """What Prometheus's increase() over the window gives (no resets inside incidents)."""
    at = np.flatnonzero(window)
    return float(series.values[at[-1]] - series.values[at[0] - 1])


def http_by_le(history: History, window: np.ndarray, **labels: str) -> list[float]:
    les = [repr(b) for b in HTTP_BUCKETS] + ["+Inf"]
    totals = [0.0] * len(les)
    for route in ROUTES:
        for status in ("200", "500"):
            if labels.get("route", route.path) != route.path:
                continue
            for j, le in enumerate(les):
                name = "http_request_duration_seconds_bucket"
                s = history.series(name, route=route.path, status_code=status, le=le)
                totals[j] += increase(s, window)
    return totals


def test_spec_ends_two_minutes_before_now_and_anchors_at_midnight() -> None:
    spec = HistorySpec.ending_now(NOW, job="j", instance="i:1", days=30, step=60)
    assert spec.anchor == int(datetime(2026, 11, 28, tzinfo=UTC).timestamp())
    assert 120 <= NOW.timestamp() - spec.end < 180
    assert len(spec.times()) == 30 * 1440
    assert anchor_for(NOW) == spec.anchor


def test_all_four_incidents_fit_in_twelve_days(history: History) -> None:
    assert {i.kind for i in history.incidents} == {"error_rate", "latency", "memory", "database"}
    for i in history.incidents:
        assert history.times[0] <= i.start_s < i.end_s <= history.times[-1]
        assert i.start_s < history.spec.anchor


def test_incidents_outside_the_history_are_dropped() -> None:
    anchor = anchor_for(NOW)
    kept = incidents_for(anchor, start=anchor - 2 * 86_400, end=anchor)
    assert [i.name for i in kept] == ["trades-api-error-spike"]


def test_error_spike_fails_sixteen_percent_of_trades_and_over_five_percent_overall(
    history: History,
) -> None:
    spike = incident(history, "error_rate")
    assert spike.duration_s == 25 * 60
    w = history.window(spike)
    name = "http_request_duration_seconds_count"
    errors = increase(history.series(name, route="/api/trades", status_code="500"), w)
    ok = increase(history.series(name, route="/api/trades", status_code="200"), w)
    assert errors / (errors + ok) == pytest.approx(0.16, abs=0.02)
    all_errors = sum(
        increase(history.series(name, route=r.path, status_code="500"), w) for r in ROUTES
    )
    everything = sum(
        increase(history.series(name, route=r.path, status_code=s), w)
        for r in ROUTES
        for s in ("200", "500")
    )
    assert 0.05 < all_errors / everything < 0.08
    # An hour before, the error ratio is the baseline.
    before = (history.times >= spike.start_s - 3600) & (history.times < spike.start_s - 1800)
    base_errors = sum(
        increase(history.series(name, route=r.path, status_code="500"), before) for r in ROUTES
    )
    assert (
        base_errors
        / sum(
            increase(history.series(name, route=r.path, status_code=s), before)
            for r in ROUTES
            for s in ("200", "500")
        )
        < 0.01
    )


def test_latency_regression_puts_p95_at_three_and_a_half_seconds(history: History) -> None:
    regression = incident(history, "latency")
    assert regression.duration_s == 60 * 60
    p95 = histogram_quantile(0.95, HTTP_BUCKETS, http_by_le(history, history.window(regression)))
    assert p95 == pytest.approx(3.5, abs=0.25)
    day_before = (history.times >= regression.start_s - 86_400) & (
        history.times < regression.end_s - 86_400
    )
    assert histogram_quantile(0.95, HTTP_BUCKETS, http_by_le(history, day_before)) < 1.5


def test_memory_leak_ramps_from_60_to_97_stays_above_90_for_100_minutes_then_drops(
    history: History,
) -> None:
    leak = incident(history, "memory")
    memory = history.series("system_memory_usage_percent").values
    minutes_above_90 = int((memory > 90).sum()) * history.spec.step / 60
    assert 100 <= minutes_above_90 <= 110
    inside = memory[history.window(leak)]
    assert (inside > 90).all() and inside.max() == pytest.approx(97, abs=0.5)
    ramp = int(np.searchsorted(history.times, ramp_start(leak)))
    assert memory[ramp] == pytest.approx(60, abs=1.5)
    restart = int(np.searchsorted(history.times, leak.end_s))
    assert memory[restart + 1] < 50
    assert not history.present[restart]
    assert history.series("up").values[restart] == 0
    assert history.series("up").values.sum() == len(history.times) - 1


def test_restart_resets_counters_and_start_time(history: History) -> None:
    leak = incident(history, "memory")
    restart = int(np.searchsorted(history.times, leak.end_s))
    count = history.series(
        "http_request_duration_seconds_count", route="/api/trades", status_code="200"
    ).values
    assert count[restart + 1] < count[restart - 1]
    assert np.all(np.diff(count[: restart - 1]) >= 0) and np.all(np.diff(count[restart:]) >= 0)
    start_time = history.series("process_start_time_seconds").values
    assert start_time[restart + 1] == history.times[restart] > start_time[0]


def test_database_slowdown_puts_db_p95_at_one_and_a_half_seconds_with_failures(
    history: History,
) -> None:
    slow = incident(history, "database")
    assert slow.duration_s == 45 * 60
    w = history.window(slow)
    les = [repr(b) for b in DB_BUCKETS] + ["+Inf"]
    by_le = [
        sum(
            increase(
                history.series(
                    "db_query_duration_seconds_bucket",
                    operation=op.operation,
                    collection=op.collection,
                    le=le,
                ),
                w,
            )
            for op in DB_OPS
        )
        for le in les
    ]
    assert histogram_quantile(0.95, DB_BUCKETS, by_le) == pytest.approx(1.5, abs=0.15)
    failures = history.series("db_connection_failures_total")
    assert increase(failures, w) > 150  # about six a minute
    # The seed's alert: more than 10 failures in 5 minutes, only during the incident.
    per_5m = failures.values[5:] - failures.values[:-5]
    firing = history.times[5:][per_5m > 10]
    assert firing.min() >= slow.start_s and firing.max() <= slow.end_s + 300


def test_daily_and_weekly_cycles(history: History) -> None:
    count = history.series(
        "http_request_duration_seconds_count", route="/api/trades", status_code="200"
    ).values
    per_step = np.diff(count).clip(0)
    hours = (history.times[1:] % 86_400) // 3600
    weekday = (history.times[1:] // 86_400 + 3) % 7
    weekdays = weekday < 5
    afternoon = per_step[(hours == 15) & weekdays].mean()
    night = per_step[(hours == 3) & weekdays].mean()
    assert afternoon > 2.0 * night
    sunday_afternoon = per_step[(hours == 15) & (weekday == 6)].mean()
    assert sunday_afternoon < 0.7 * afternoon
    # ~10 requests/s on average across routes: trades carry 45 %.
    assert 3.0 < per_step.mean() / history.spec.step < 6.0


def test_web_vitals_exist_per_page_and_lcp_slows_during_the_regression(history: History) -> None:
    regression = incident(history, "latency")
    w = history.window(regression)
    for page in ("/dashboard", "/trades", "/customers"):
        for name in (
            "web_vitals_lcp_seconds_count",
            "web_vitals_inp_seconds_count",
            "web_vitals_cls_count",
        ):
            assert history.series(name, page=page).values[-1] > 0
    lcp_sum = history.series("web_vitals_lcp_seconds_sum", page="/dashboard")
    lcp_count = history.series("web_vitals_lcp_seconds_count", page="/dashboard")
    during = increase(lcp_sum, w) / increase(lcp_count, w)
    day_before = (history.times >= regression.start_s - 86_400) & (
        history.times < regression.end_s - 86_400
    )
    before = increase(lcp_sum, day_before) / increase(lcp_count, day_before)
    assert during > 1.5 * before


def test_same_spec_same_samples() -> None:
    spec = HistorySpec.ending_now(NOW, job="j", instance="i:1", days=1, step=300)
    a, b = generate(spec), generate(spec)
    for fa, fb in zip(a.families, b.families, strict=True):
        for sa, sb in zip(fa.series, fb.series, strict=True):
            assert np.array_equal(sa.values, sb.values)


def test_series_count_stays_modest(history: History) -> None:
    assert sum(len(f.series) for f in history.families) < 350
