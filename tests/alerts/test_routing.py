"""Alertmanager routing semantics: matchers, the route tree, inheritance, inhibition."""

from __future__ import annotations

import pytest
import yaml

from sreworkbook.alerts.routing import Matcher, parse_matcher, routing_from_config
from sreworkbook.exceptions import ParameterError

TREE = yaml.safe_load(
    """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
  - receiver: db
    match: {team: db}
    continue: true
    group_by: ['...']
  - receiver: critical
    matchers: ['severity=~"crit.*"']
    group_interval: 1m
    routes:
    - receiver: critical-eu
      matchers: ['region="eu"']
  - receiver: never
    match_re: {severity: '.*'}
receivers:
- name: default
- name: db
  webhook_configs: [{url: 'http://127.0.0.1:1/'}]
- name: critical
  slack_configs: [{channel: '#a', send_resolved: true}]
  pagerduty_configs: [{routing_key: k}, {routing_key: k2, send_resolved: false}]
- name: critical-eu
- name: never
"""
)


def test_matchers_parse_and_anchor_their_regexes() -> None:
    assert parse_matcher('severity="critical"') == Matcher("severity", "=", "critical")
    assert parse_matcher('{slo=~".+"}') == Matcher("slo", "=~", ".+")
    assert parse_matcher(r'a!~"x\"y"') == Matcher("a", "!~", 'x"y')
    assert parse_matcher("job=api") == Matcher("job", "=", "api")
    assert Matcher("s", "=~", "crit").matches({"s": "critical"}) is False
    assert Matcher("s", "=~", "crit.*").matches({"s": "critical"}) is True
    assert Matcher("s", "=", "").matches({}) is True
    assert Matcher("s", "!=", "x").matches({}) is True
    with pytest.raises(ValueError, match="not a matcher"):
        parse_matcher("severity critical")
    with pytest.raises(ValueError, match="bad regular expression"):
        parse_matcher('a=~"("')


def test_the_first_matching_child_wins_unless_it_continues() -> None:
    routing = routing_from_config(TREE)
    names = [r.receiver for r in routing.route.match({"team": "db", "severity": "critical"})]
    assert names == ["db", "critical"]
    assert [r.receiver for r in routing.route.match({"severity": "critical", "region": "eu"})] == [
        "critical-eu"
    ]
    assert [r.receiver for r in routing.route.match({"severity": "info"})] == ["never"]
    assert [r.receiver for r in routing.route.match({})] == ["never"]  # .* matches ""


def test_children_inherit_grouping_and_timing() -> None:
    routing = routing_from_config(TREE)
    (eu,) = routing.route.match({"severity": "critical", "region": "eu"})
    assert eu.group_by == ("alertname",)
    assert (eu.group_wait_ms, eu.group_interval_ms, eu.repeat_interval_ms) == (
        10_000,
        60_000,
        14_400_000,
    )
    (db, _) = routing.route.match({"team": "db", "severity": "critical", "x": "1"})
    assert db.group_labels({"team": "db", "x": "1"}) == (("team", "db"), ("x", "1"))


def test_receivers_list_their_integrations_with_alertmanagers_send_resolved_defaults() -> None:
    routing = routing_from_config(TREE)
    critical = routing.receiver("critical")
    assert [(i.kind, i.send_resolved, i.index) for i in critical.integrations] == [
        ("slack", True, 0),
        ("pagerduty", True, 0),
        ("pagerduty", False, 1),
    ]
    assert routing.receiver("db").integrations[0].send_resolved is True
    with pytest.raises(ParameterError, match="did you mean one of"):
        routing.receiver("nope")


def test_an_unknown_receiver_in_the_tree_is_an_error() -> None:
    bad = {"route": {"receiver": "gone"}, "receivers": [{"name": "r"}]}
    with pytest.raises(ParameterError, match="unknown receiver 'gone'"):
        routing_from_config(bad)
    with pytest.raises(ParameterError, match="needs a route"):
        routing_from_config({"receivers": []})
    with pytest.raises(ParameterError, match="not a duration"):
        routing_from_config(
            {"route": {"receiver": "r", "group_wait": "5x"}, "receivers": [{"name": "r"}]}
        )


def test_inhibition_needs_a_firing_source_with_equal_labels() -> None:
    routing = routing_from_config(
        {
            "route": {"receiver": "r"},
            "receivers": [{"name": "r"}],
            "inhibit_rules": [
                {
                    "source_matchers": ['severity="critical"'],
                    "target_matchers": ['severity="warning"'],
                    "equal": ["alertname"],
                },
                {
                    "source_match": {"kind": "both"},
                    "target_match": {"kind": "both"},
                },
            ],
        }
    )
    warning = {"alertname": "A", "severity": "warning"}
    assert routing.muted(warning, [{"alertname": "A", "severity": "critical"}])
    assert not routing.muted(warning, [{"alertname": "B", "severity": "critical"}])
    assert not routing.muted(warning, [])
    # An alert matching both sides cannot be muted by another that does too.
    both = {"kind": "both", "n": "1"}
    assert not routing.muted(both, [both, {"kind": "both", "n": "2"}])
