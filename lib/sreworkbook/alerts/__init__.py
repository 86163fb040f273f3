"""Alert tuning: rules, a backtester with Prometheus's exact semantics, sweeps and scores.

Read rules with :func:`load_rules`; evaluate their signals with Prometheus and replay the
alert state machine with :func:`backtest_rules` (or :func:`backtest` on a signal you have);
score against incidents with :func:`score_instances`; try candidates with :func:`sweep`,
then :func:`pareto_front` and :func:`recommend`; generate SLO burn-rate rules with
:func:`burn_rate_rules`.
"""

from sreworkbook.alerts.backtest import AlertInstance, Episode, backtest, firing_episodes
from sreworkbook.alerts.durations import format_duration, parse_duration
from sreworkbook.alerts.expr import Comparison, split_threshold
from sreworkbook.alerts.incidents import Incident, read_incidents
from sreworkbook.alerts.prometheus_api import (
    RuleBacktest,
    backtest_rules,
    evaluate_signal,
    instances_json,
)
from sreworkbook.alerts.rules import (
    AlertRule,
    RecordingRule,
    RuleSet,
    SweepGrid,
    load_rules,
    parse_rules,
)
from sreworkbook.alerts.scoring import (
    Recommendation,
    Score,
    pareto_front,
    recommend,
    score_instances,
    sweep,
)
from sreworkbook.alerts.signal import EvalGrid, Signal, SignalSeries
from sreworkbook.alerts.slo import burn_rate_rules, burn_warnings, slo_spec

__all__ = [
    "AlertInstance",
    "AlertRule",
    "Comparison",
    "Episode",
    "EvalGrid",
    "Incident",
    "Recommendation",
    "RecordingRule",
    "RuleBacktest",
    "RuleSet",
    "Score",
    "Signal",
    "SignalSeries",
    "SweepGrid",
    "backtest",
    "backtest_rules",
    "burn_rate_rules",
    "burn_warnings",
    "evaluate_signal",
    "firing_episodes",
    "format_duration",
    "instances_json",
    "load_rules",
    "pareto_front",
    "parse_duration",
    "parse_rules",
    "read_incidents",
    "recommend",
    "score_instances",
    "slo_spec",
    "split_threshold",
    "sweep",
]
