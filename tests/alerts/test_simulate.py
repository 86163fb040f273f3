"""The notification simulator on hand-made cases whose answers follow from Alertmanager's rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sreworkbook.alerts import AlertInstance, Episode
from sreworkbook.alerts.alertmanager import alertmanager_config
from sreworkbook.alerts.routing import routing_from_config
from sreworkbook.alerts.simulate import SimAlert, alerts_from_instances, simulate
from sreworkbook.config import NotificationsConfig

S, M, H = 1000, 60_000, 3_600_000

CONFIG = yaml.safe_load(
    """
route:
  receiver: team-slack
  group_by: [alertname, job]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
  - receiver: oncall
    matchers: ['severity="critical"']
    repeat_interval: 1h
  - receiver: warn
    matchers: ['severity="warning"']
receivers:
- name: team-slack
  slack_configs: [{channel: '#a'}]
- name: oncall
  pagerduty_configs: [{routing_key: k}]
  slack_configs: [{channel: '#a', send_resolved: true}]
- name: warn
  slack_configs: [{channel: '#a'}]
  email_configs: [{to: a@example.com}]
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [alertname, job]
"""
)
ROUTING = routing_from_config(CONFIG)


def alert(
    name: str, severity: str | None, first: int, resolved: int | None, **labels: str
) -> SimAlert:
    tags = {"alertname": name, "job": "api", **labels}
    if severity:
        tags["severity"] = severity
    return SimAlert(tags, first, resolved)


def times(result: Any, receiver: str, integration: str) -> list[int]:
    return [
        n.at_ms
        for n in result.notifications
        if n.receiver == receiver and n.integration == integration
    ]


def test_a_critical_alert_pages_once_and_resolves() -> None:
    result = simulate(ROUTING, [alert("A", "critical", 0, 10 * M)])
    assert times(result, "oncall", "pagerduty") == [30 * S, 10 * M + 30 * S]
    assert times(result, "oncall", "slack") == [30 * S, 10 * M + 30 * S]
    pagerduty = result.count("oncall", "pagerduty")
    assert (pagerduty.pages, pagerduty.firing_messages, pagerduty.resolved_messages) == (1, 1, 1)
    assert result.pages == 1
    assert result.count("warn", "email").messages == 0


def test_without_send_resolved_the_resolution_is_not_sent() -> None:
    result = simulate(ROUTING, [alert("A", None, 0, 10 * M)])
    assert times(result, "team-slack", "slack") == [30 * S]


def test_alerts_arriving_within_group_wait_make_one_message() -> None:
    result = simulate(
        ROUTING,
        [
            alert("W", "warning", 0, 30 * M, instance="a"),
            alert("W", "warning", 10 * S, 30 * M, instance="b"),
        ],
    )
    (message,) = [n for n in result.notifications if n.integration == "slack"]
    assert (message.at_ms, message.firing, message.group) == (
        30 * S,
        2,
        (("alertname", "W"), ("job", "api")),
    )
    assert result.count("warn", "email").messages == 1


def test_a_new_alert_in_a_group_waits_for_the_next_group_interval() -> None:
    result = simulate(
        ROUTING,
        [
            alert("W", "warning", 0, 30 * M, instance="a"),
            alert("W", "warning", 2 * M, 30 * M, instance="b"),
        ],
    )
    assert times(result, "warn", "slack") == [30 * S, 5 * M + 30 * S]
    assert [n.firing for n in result.notifications if n.integration == "slack"] == [1, 2]


def test_repeat_interval_counts_from_the_last_notification_on_group_interval_ticks() -> None:
    result = simulate(ROUTING, [alert("A", "critical", 0, 3 * H)])
    # Ticks at 30 s + k·5 m; a repeat needs the last one *strictly* more than 1 h ago.
    expected = [30 * S, H + 5 * M + 30 * S, 2 * H + 10 * M + 30 * S, 3 * H + 30 * S]
    assert times(result, "oncall", "slack") == expected
    assert result.count("oncall", "pagerduty").messages == 4
    assert result.count("oncall", "pagerduty").pages == 1


def test_a_blip_shorter_than_group_wait_sends_nothing() -> None:
    result = simulate(ROUTING, [alert("A", "critical", 0, 20 * S)])
    assert result.notifications == ()
    assert result.messages == 0


def test_a_flap_inside_one_group_interval_is_one_firing_and_one_resolved_message() -> None:
    result = simulate(
        ROUTING, [alert("A", "critical", 0, 1 * M), alert("A", "critical", 2 * M, 3 * M)]
    )
    assert times(result, "oncall", "slack") == [30 * S, 5 * M + 30 * S]
    assert result.count("oncall", "pagerduty").pages == 1


def test_a_critical_alert_mutes_its_warning_twin_until_it_resolves() -> None:
    result = simulate(
        ROUTING, [alert("X", "critical", 0, 10 * M), alert("X", "warning", 0, 20 * M)]
    )
    assert times(result, "oncall", "slack") == [30 * S, 10 * M + 30 * S]
    # Muted at 30 s and 5 m 30 s; the critical one resolved at 10 m, so 10 m 30 s notifies.
    assert times(result, "warn", "slack") == [10 * M + 30 * S]
    assert times(result, "warn", "email") == [10 * M + 30 * S]
    assert result.muted == 1


def test_different_jobs_are_not_twins() -> None:
    result = simulate(
        ROUTING,
        [alert("X", "critical", 0, 10 * M), alert("X", "warning", 0, 20 * M, job="other")],
    )
    assert times(result, "warn", "slack") == [30 * S]
    assert result.muted == 0


def test_an_alert_that_started_long_ago_is_flushed_at_once() -> None:
    old = SimAlert({"alertname": "A", "severity": "critical"}, 10 * M, None, starts_ms=0)
    result = simulate(ROUTING, [old])
    assert times(result, "oncall", "slack") == [10 * M]


def test_a_group_that_emptied_starts_over_with_group_wait() -> None:
    result = simulate(
        ROUTING, [alert("A", "critical", 0, 1 * M), alert("A", "critical", 20 * M, 21 * M)]
    )
    # Resolved at 5 m 30 s; the group ends; the next episode waits 30 s again and pages again.
    assert times(result, "oncall", "pagerduty") == [
        30 * S,
        5 * M + 30 * S,
        20 * M + 30 * S,
        25 * M + 30 * S,
    ]
    assert result.count("oncall", "pagerduty").pages == 2


def test_flushes_after_the_end_are_not_replayed() -> None:
    result = simulate(ROUTING, [alert("A", "critical", 0, None)], start_ms=0, end_ms=H)
    assert times(result, "oncall", "slack") == [30 * S]
    assert result.span_ms == H
    assert result.count("oncall", "slack").per_week == pytest.approx(7 * 24)


def test_backtest_instances_become_alerts_resolved_one_evaluation_later() -> None:
    instance = AlertInstance("A", {"job": "api", "severity": "critical"}, (Episode(0, 60 * S),))
    (made,) = alerts_from_instances("A", [instance], interval_ms=15 * S)
    assert made.labels == {"job": "api", "severity": "critical", "alertname": "A"}
    assert (made.firing_ms, made.resolved_ms) == (0, 75 * S)
    (open_ended,) = alerts_from_instances("A", [instance], interval_ms=15 * S, end_ms=60 * S)
    assert open_ended.resolved_ms is None


def test_the_exported_routing_sends_critical_to_pagerduty_and_slack_warning_to_slack_and_email() -> (
    None
):
    notifications = NotificationsConfig.model_validate(
        {
            "slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"},
            "email": {
                "smtp_host": "smtp.example.com",
                "from_addr": "a@example.com",
                "to": ["t@example.com"],
            },
            "pagerduty": {"routing_key": "${PAGERDUTY_ROUTING_KEY}"},
        }
    )
    routing = routing_from_config(alertmanager_config(notifications).config)
    result = simulate(
        routing, [alert("C", "critical", 0, 10 * M), alert("W", "warning", 0, 10 * M)]
    )
    by = {(c.receiver, c.integration): c.messages for c in result.counts}
    assert by == {
        ("team-slack", "slack"): 0,
        ("oncall-critical", "pagerduty"): 2,
        ("oncall-critical", "slack"): 2,
        ("team-warning", "slack"): 2,
        ("team-warning", "email"): 1,
    }
    assert result.by_integration() == {"slack": 4, "pagerduty": 2, "email": 1}
    assert result.pages == 1
