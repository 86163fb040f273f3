"""Logs lined up with a metrics source: buckets, labels, and a source that fails.

The metrics source here is an in-process object meeting the line-up's two-method contract; the
real Prometheus is lined up in tests/notebooks/test_incident_explorer.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.incidents import explore, line_up, lineup_of
from sreworkbook.incidents.lineup import lineup_step
from sreworkbook.results import Status

START = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


class Panels:
    """Answers every panel with one value per step (and counts what it was asked)."""

    name = "prometheus"

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.asked = fail, []  # type: list[tuple[str, float]]

    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        self.asked.append((panel, step_s))
        if self.fail and panel == "latency_p95":
            raise SourceError("connection refused", source="prometheus", query=panel)
        times = pd.date_range(start, end, freq=pd.Timedelta(seconds=step_s))
        value = 0.05 if panel == "error_rate" else 900.0
        return pd.DataFrame({"timestamp": times, "series": "all", "value": value})

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        return 0.052


def requests() -> pd.DataFrame:
    """Minute 0: 4 requests, 1 failed; minute 1: 2 requests, none failed; minute 2: none."""
    at = [START + timedelta(seconds=s) for s in (1, 10, 20, 59, 61, 119)]
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(at, utc=True),
            "duration_ms": [100.0, 200.0, 300.0, 400.0, 50.0, 60.0],
            "failed": [False, True, False, False, False, False],
        }
    )


def test_steps_keep_charts_readable() -> None:
    assert lineup_step(START, START + timedelta(minutes=25)) == MIN
    assert lineup_step(START, START + timedelta(minutes=85)) == 2 * MIN
    assert lineup_step(START, START + timedelta(hours=24)) == 30 * MIN
    assert lineup_step(START, START + timedelta(days=7)) == 180 * MIN


def test_log_buckets_are_labelled_by_their_end() -> None:
    got = line_up(requests(), START, START + 3 * MIN, step=MIN)
    assert got.note == "no metrics source configured" and got.metrics_source == ""
    assert [f.severity for f in got.findings()] == [Status.SKIPPED]
    rate = got.series("logs", "error_rate")
    assert list(rate.index) == [pd.Timestamp(START + MIN), pd.Timestamp(START + 2 * MIN)]
    assert list(rate) == [0.25, 0.0]
    assert list(got.series("logs", "requests")) == [4, 2]
    assert got.series("logs", "p95_ms").iloc[0] == pytest.approx(
        pd.Series([100.0, 200.0, 300.0, 400.0]).quantile(0.95)
    )
    assert got.metrics() == {} and got.agreement() is None


def test_metrics_source_on_the_same_axis() -> None:
    source = Panels()
    got = line_up(requests(), START, START + 3 * MIN, lambda: source, step=MIN,
                  focus=(START, START + 2 * MIN))  # fmt: skip
    assert source.asked == [("error_rate", 60.0), ("latency_p95", 60.0)]
    assert got.metrics_source == "prometheus" and not got.note and not got.findings()
    metrics = got.series("prometheus", "error_rate")
    assert metrics.index[0] == pd.Timestamp(START + MIN)  # the first step ends where logs do
    assert got.metrics() == {"error_rate_metrics": 0.052}
    assert got.agreement() == pytest.approx((0.2 + 0.05) / 2)


def test_a_source_that_cannot_be_made_or_fails_is_a_note() -> None:
    def missing() -> Panels:
        raise ParameterError("there is no prometheus: section", key="prometheus")

    got = line_up(requests(), START, START + 3 * MIN, missing, step=MIN)
    assert got.note.startswith("no metrics source:") and "prometheus: section" in got.note
    half = line_up(requests(), START, START + 3 * MIN, lambda: Panels(fail=True), step=MIN)
    assert "connection refused" in half.note
    assert set(half.frame["source"]) == {"logs"}  # nothing half-drawn from the metrics


def test_an_unreadable_exploration_lines_up_empty(tmp_path: Path) -> None:
    env = Environment.model_validate({"name": "t", "logs": {"dir": str(tmp_path / "none")}})
    found = explore(env, root=tmp_path, now=START, window="1h")
    got = lineup_of(found, lambda: Panels())
    assert got.frame["source"].eq("prometheus").all() and len(got.frame)
    assert got.metrics() == {"error_rate_metrics": 0.052}


def test_a_bucket_still_open_at_the_live_edge_is_not_drawn() -> None:
    # The window ends 30 s into the second minute: its 1 request so far is no drop in traffic.
    got = line_up(requests(), START, START + MIN + timedelta(seconds=90 - 60), step=MIN)
    assert list(got.series("logs", "requests")) == [4]
    assert list(got.series("logs", "requests").index) == [pd.Timestamp(START + MIN)]
