"""Signals from range-query answers, and Prometheus's own errors named per rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import requests

from sreworkbook.alerts import AlertRule, EvalGrid, backtest_rules, evaluate_signal
from sreworkbook.alerts.prometheus_api import signal_from_frame
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.sources.prometheus import PrometheusSource, frame_from_result
from support.net import free_port

from .conftest import PrometheusTSDB

ORIGIN_S = 1_700_000_000


def test_frame_to_signal_keeps_labels_and_drops_off_grid_samples() -> None:
    frame = frame_from_result(
        [
            {
                "metric": {"__name__": "x", "a": "1"},
                "values": [[ORIGIN_S, "1"], [ORIGIN_S + 15, "NaN"]],
            },
            {"metric": {"__name__": "x"}, "values": [[ORIGIN_S + 15, "2"], [ORIGIN_S + 16, "9"]]},
            {"metric": {"__name__": "x", "a": "1"}, "values": [[ORIGIN_S + 30, "3"]]},
        ]
    )
    grid = EvalGrid(ORIGIN_S * 1000, 15_000, 3)
    signal = signal_from_frame("x", grid, frame)
    by_labels = {tuple(sorted(s.labels.items())): s for s in signal.series}
    one = by_labels[(("__name__", "x"), ("a", "1"))]
    assert one.present.tolist() == [True, True, True]
    assert one.values[0] == 1 and pd.isna(one.values[1]) and one.values[2] == 3
    bare = by_labels[(("__name__", "x"),)]
    assert bare.present.tolist() == [False, True, False]
    with pytest.raises(ValueError):
        bare.present[0] = True  # read-only


@pytest.fixture
def small_prometheus(
    tmp_path: Path, prometheus_from_openmetrics: Callable[[Path], PrometheusTSDB]
) -> PrometheusTSDB:
    lines = [f'm{{s="a"}} {v} {ORIGIN_S + 15 * k}' for k, v in enumerate([1, 9, 9, 9, 1] * 20)]
    path = tmp_path / "m.om.txt"
    path.write_text("\n".join([*lines, "# EOF"]) + "\n", encoding="utf-8")
    return prometheus_from_openmetrics(path)


def test_chunked_signal_equals_one_query(small_prometheus: PrometheusTSDB) -> None:
    grid = EvalGrid(ORIGIN_S * 1000, 15_000, 100)
    with requests.Session() as session:
        whole = evaluate_signal(PrometheusSource(small_prometheus.url, session=session), "m", grid)
        chunked_client = PrometheusSource(small_prometheus.url, session=session, max_points=7)
        chunked = evaluate_signal(chunked_client, "m", grid)
    assert chunked_client.requests_made == 15
    assert [s.labels for s in whole.series] == [s.labels for s in chunked.series]
    assert whole.series[0].present.all()
    assert (whole.series[0].values == chunked.series[0].values).all()


def test_an_expression_prometheus_rejects_names_the_rule(small_prometheus: PrometheusTSDB) -> None:
    rules = [AlertRule("Broken", "rate(m[5m) > 1", interval_ms=15_000, source="rules.yml")]
    with requests.Session() as session:
        client = PrometheusSource(small_prometheus.url, session=session)
        with pytest.raises(ParameterError, match="Prometheus rejects the expression") as caught:
            backtest_rules(rules, client, start_ms=ORIGIN_S * 1000, end_ms=ORIGIN_S * 1000 + 60_000)
    assert caught.value.key == "Broken" and caught.value.source == "rules.yml"


def test_unreachable_prometheus_is_a_source_error() -> None:
    client = PrometheusSource(
        f"http://127.0.0.1:{free_port()}", retries=1, backoff_s=0.01, timeout_s=2
    )
    rules = [AlertRule("A", "up == 0", interval_ms=15_000)]
    with pytest.raises(SourceError, match="cannot connect"):
        backtest_rules(rules, client, start_ms=0, end_ms=60_000)
