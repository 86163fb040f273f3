"""The alert a runbook starts from: labels as JSON, YAML or a whole Alertmanager alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sreworkbook.alerts.runbook import alert_context, alert_markdown
from sreworkbook.exceptions import ParameterError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_labels_as_json_or_yaml() -> None:
    a = alert_context('{"alertname": "X", "job": "api"}', start="", end="", window="1h", now=NOW)
    b = alert_context("{alertname: X, job: api}", start="", end="", window="1h", now=NOW)
    assert a.labels == b.labels == {"alertname": "X", "job": "api"}
    assert a.window.end == NOW and (a.window.end - a.window.start).total_seconds() == 3600
    assert "`alertname` | `X`" in alert_markdown(a)


def test_a_whole_alert_opens_the_window_half_an_hour_before_it_started() -> None:
    alert = '{"labels": {"alertname": "X"}, "startsAt": "2026-11-28T10:00:00Z", "status": "firing"}'
    ctx = alert_context(alert, start="", end="", window="1h", now=NOW)
    assert ctx.labels == {"alertname": "X"}
    assert ctx.window.start == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    given = alert_context(alert, start="2026-11-28T11:00:00Z", end="", window="1h", now=NOW)
    assert given.window.start == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("labels", "key"), [("[1, 2]", "labels"), ("{a: [", "labels"), ("{}", "start")]
)
def test_bad_input_names_the_parameter(labels: str, key: str) -> None:
    start = "2026-11-28T13:00:00Z" if key == "start" else ""
    with pytest.raises(ParameterError) as caught:
        alert_context(labels, start=start, end="", window="1h", now=NOW)
    assert caught.value.key == key
