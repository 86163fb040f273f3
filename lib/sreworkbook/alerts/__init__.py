"""Alert tuning: rules, a backtester with Prometheus's exact semantics, sweeps and scores.

Read rules with :func:`load_rules`; evaluate their signals with Prometheus and replay the
alert state machine with :func:`backtest_rules` (or :func:`backtest` on a signal you have);
score against incidents with :func:`score_instances`; try candidates with :func:`sweep`,
then :func:`pareto_front` and :func:`recommend`; generate SLO burn-rate rules with
:func:`burn_rate_rules`.

For a whole rule file on an environment, :func:`tune_environment` does all of that at once;
:func:`export_bundle` writes ``rules.yml``, a ``promtool`` test file built from real episodes
and an ``alertmanager.yml`` (:func:`alertmanager_config`), :func:`validate_export` runs the
real tools on them, and :func:`simulate` replays episodes through the routing
(:func:`routing_from_config`). The notebooks' views and the runbooks' diagnoses are in
:mod:`.view`, :mod:`.review`, :mod:`.runbook` and :mod:`.diagnose`.
"""

from sreworkbook.alerts.alertmanager import AlertmanagerFile, RoutingPolicy, alertmanager_config
from sreworkbook.alerts.backtest import AlertInstance, Episode, backtest, firing_episodes
from sreworkbook.alerts.durations import format_duration_ms, parse_duration_ms
from sreworkbook.alerts.export import ExportBundle, export_bundle
from sreworkbook.alerts.expr import Comparison, split_threshold
from sreworkbook.alerts.prometheus_api import (
    RuleBacktest,
    backtest_rules,
    evaluate_signal,
    instances_json,
)
from sreworkbook.alerts.routing import Routing, routing_from_config
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
from sreworkbook.alerts.simulate import SimAlert, SimulationResult, simulate
from sreworkbook.alerts.slo import burn_rate_rules, burn_warnings, slo_spec
from sreworkbook.alerts.tuning import RuleTuning, TuningReport, tune_environment, tune_rules
from sreworkbook.alerts.validate import ToolCheck, validate_export
from sreworkbook.known_incidents import Incident, load_incidents

__all__ = [
    "AlertInstance",
    "AlertRule",
    "AlertmanagerFile",
    "Comparison",
    "Episode",
    "EvalGrid",
    "ExportBundle",
    "Incident",
    "Recommendation",
    "RecordingRule",
    "Routing",
    "RoutingPolicy",
    "RuleBacktest",
    "RuleSet",
    "RuleTuning",
    "Score",
    "Signal",
    "SignalSeries",
    "SimAlert",
    "SimulationResult",
    "SweepGrid",
    "ToolCheck",
    "TuningReport",
    "alertmanager_config",
    "backtest",
    "backtest_rules",
    "burn_rate_rules",
    "burn_warnings",
    "evaluate_signal",
    "export_bundle",
    "firing_episodes",
    "format_duration_ms",
    "instances_json",
    "load_incidents",
    "load_rules",
    "pareto_front",
    "parse_duration_ms",
    "parse_rules",
    "recommend",
    "routing_from_config",
    "score_instances",
    "simulate",
    "slo_spec",
    "split_threshold",
    "sweep",
    "tune_environment",
    "tune_rules",
    "validate_export",
]
