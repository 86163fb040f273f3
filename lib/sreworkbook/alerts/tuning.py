"""Backtest every rule of a rule file on an environment's history, sweep, and recommend.

:func:`tune_environment` is what the notebook and ``sreworkbook alerts export`` call: it reads
the rules and the known incidents, evaluates each rule's signal once with the environment's
Prometheus (rules in parallel, one client each), applies the state machine, scores the
current setting, sweeps the candidates of ``tuning:`` in ``alerts.yaml`` from the same signal,
and keeps the recommended setting per rule. A rule Prometheus rejects becomes a finding that
names it; the others go on.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sreworkbook.alerts.backtest import AlertInstance, backtest
from sreworkbook.alerts.durations import parse_duration_ms
from sreworkbook.alerts.prometheus_api import RuleBacktest, backtest_rules
from sreworkbook.alerts.rules import AlertRule, RuleSet, load_rules
from sreworkbook.alerts.ruletests import Querier
from sreworkbook.alerts.scoring import (
    Recommendation,
    Score,
    pareto_front,
    recommend,
    score_instances,
    sweep,
)
from sreworkbook.config import Environment
from sreworkbook.edges.retry import Breaker
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.known_incidents import Incident, incidents_for, within_ms
from sreworkbook.results import Finding, Status

__all__ = [
    "RuleTuning",
    "TuningReport",
    "incident_kind",
    "prometheus_connector",
    "tune_environment",
    "tune_rules",
]

#: An SLO's ``slo`` label → the incident kind its burn-rate alerts are meant to catch.
_SLO_KINDS = {"availability": "error_rate", "latency": "latency"}
#: Settled pieces of the backtest's range queries, under the workbook root (git-ignored).
CACHE_FOLDER = Path(".cache") / "prometheus"


@dataclass(frozen=True, eq=False)
class RuleTuning:
    """One rule: as written (with its signal and episodes), its candidates, and the choice."""

    result: RuleBacktest
    kind: str
    current: Score
    candidates: tuple[Score, ...]
    front: tuple[Score, ...]
    recommendation: Recommendation
    tuned: AlertRule
    tuned_instances: tuple[AlertInstance, ...]
    tuned_score: Score
    sweep_s: float = 0.0

    @property
    def rule(self) -> AlertRule:
        return self.result.rule

    @property
    def changed(self) -> bool:
        return self.tuned != self.rule


@dataclass(frozen=True, eq=False)
class TuningReport:
    """Every rule's tuning over ``[start_ms, end_ms]``, and what could not be backtested."""

    rules: RuleSet
    tunings: tuple[RuleTuning, ...]
    incidents: tuple[Incident, ...]
    start_ms: int
    end_ms: int
    problems: tuple[Finding, ...] = ()
    elapsed_s: float = 0.0
    connect: Callable[[], Querier] | None = field(default=None, repr=False)

    def tuning(self, name: str) -> RuleTuning:
        for t in self.tunings:
            if t.rule.name == name:
                return t
        known = ", ".join(t.rule.name for t in self.tunings) or "none"
        raise KeyError(f"no tuning for {name!r}, did you mean one of: {known}")

    def exported_rules(self) -> list[AlertRule]:
        """Every alert of the rule file in order: tuned where it was backtested, else as is."""
        by_key = {(t.rule.group, t.rule.name, t.rule.expr): t.tuned for t in self.tunings}
        return [by_key.get((r.group, r.name, r.expr), r) for r in self.rules.alerts]

    def caught(self, *, tuned: bool) -> tuple[set[str], list[float]]:
        """Names of incidents some rule meant for them fires on, and the detection delays (s)."""
        names: set[str] = set()
        delays: list[float] = []
        for incident in self.incidents:
            best: float | None = None
            for t in self.tunings:
                if not incident.concerns(t.rule.name, t.kind):
                    continue
                instances = t.tuned_instances if tuned else t.result.instances
                for instance in instances:
                    for e in instance.episodes:
                        if e.first_ms <= incident.end_ms and e.last_ms >= incident.start_ms:
                            delay = max(e.first_ms - incident.start_ms, 0) / 1000
                            best = delay if best is None else min(best, delay)
            if best is not None:
                names.add(incident.name)
                delays.append(best)
        return names, delays

    def metrics(self) -> dict[str, float]:
        """The run summary's numbers (``recall_*`` only with incidents in the window)."""
        out: dict[str, float] = {
            "rules": float(len(self.rules.alerts)),
            "rules_backtested": float(len(self.tunings)),
            "pages_per_week_before": sum(t.current.pages_per_week for t in self.tunings),
            "pages_per_week_after": sum(t.tuned_score.pages_per_week for t in self.tunings),
            "rules_retuned": float(sum(t.changed for t in self.tunings)),
            "candidates": float(sum(len(t.candidates) for t in self.tunings)),
            "backtest_s": self.elapsed_s,
            "sweep_s": sum(t.sweep_s for t in self.tunings),
            "incidents": float(len(self.incidents)),
        }
        if self.incidents:
            before, delays_before = self.caught(tuned=False)
            after, delays_after = self.caught(tuned=True)
            out["recall_before"] = len(before) / len(self.incidents)
            out["recall_after"] = len(after) / len(self.incidents)
            if delays_after:
                out["median_detection_delay_s"] = statistics.median(delays_after)
            if delays_before:
                out["median_detection_delay_before_s"] = statistics.median(delays_before)
        return out


def incident_kind(rule: AlertRule, rules: RuleSet) -> str:
    """The incident kind ``rule`` must catch: from ``tuning:``, else its SLO, else any."""
    if rule.name in rules.tuning and rules.tuning[rule.name].kind:
        return rules.tuning[rule.name].kind
    return _SLO_KINDS.get(rule.labels.get("slo", ""), "")


def _tune_one(
    result: RuleBacktest, rules: RuleSet, incidents: Sequence[Incident], start: int, end: int
) -> RuleTuning:
    rule, signal = result.rule, result.signal
    kind = incident_kind(rule, rules)
    current = score_instances(
        rule, result.instances, incidents, start_ms=start, end_ms=end, kind=kind
    )
    grid = rules.tuning.get(rule.name)
    began = time.perf_counter()
    candidates: list[Score] = []
    if grid is not None and (grid.thresholds or grid.for_ or grid.keep_firing_for):
        candidates = sweep(
            rule,
            signal,
            incidents,
            thresholds=grid.thresholds if rule.comparison else (),
            for_ms=grid.for_,
            keep_firing_for_ms=grid.keep_firing_for,
            kind=kind,
        )
    elapsed = time.perf_counter() - began
    advice = (
        recommend(current, candidates)
        if candidates
        else Recommendation(current, current, "no candidates under tuning: in the rule file, kept")
    )
    best = advice.best
    tuned = rule
    if best is not current:
        tuned = rule.tuned(
            threshold=best.threshold if rule.comparison else None,
            for_ms=best.for_ms,
            keep_firing_for_ms=best.keep_firing_for_ms,
        )
    instances = tuple(backtest(tuned, signal)) if tuned != rule else result.instances
    score = score_instances(tuned, instances, incidents, start_ms=start, end_ms=end, kind=kind)
    return RuleTuning(
        result, kind, current, tuple(candidates), tuple(pareto_front(candidates)),
        advice, tuned, instances, score, elapsed,
    )  # fmt: skip


def tune_rules(
    rules: RuleSet,
    connect: Callable[[], Querier],
    incidents: Sequence[Incident],
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int | None = None,
    workers: int = 4,
) -> TuningReport:
    """Backtest, score and sweep every alert of ``rules`` over ``[start_ms, end_ms]``.

    ``connect`` makes one Prometheus client per worker; ``elapsed_s`` is the wall time.
    """
    inside = within_ms(incidents, start_ms, end_ms)
    problems: list[Finding] = []

    def one(rule: AlertRule) -> RuleTuning | None:
        client = connect()
        try:
            (result,) = backtest_rules(
                [rule], client, start_ms=start_ms, end_ms=end_ms, interval_ms=interval_ms
            )
            return _tune_one(result, rules, inside, start_ms, end_ms)
        except ParameterError as exc:
            problems.append(Finding(Status.WARN, f"{rule.name} not backtested", str(exc)))
            return None
        except SourceError as exc:  # nothing measured: not a verdict on the rule
            problems.append(Finding(Status.UNKNOWN, f"{rule.name} not backtested", str(exc)))
            return None
        finally:
            close = getattr(getattr(client, "session", None), "close", None)
            if callable(close):
                close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="backtest") as pool:
        done = list(pool.map(one, rules.alerts))
    return TuningReport(
        rules,
        tuple(t for t in done if t is not None),
        tuple(inside),
        start_ms,
        end_ms,
        tuple(sorted(problems, key=lambda f: f.title)),
        time.perf_counter() - began,
        connect,
    )


def prometheus_connector(
    env: Environment,
    environ: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    cache_dir: Path | None = None,
) -> Callable[[], Querier]:
    """A factory of Prometheus clients for ``env`` (one session each, for threads; one breaker
    for all of them; with ``cache_dir``, one cache of settled query pieces for all of them)."""
    from sreworkbook.sources.prometheus import PrometheusSource
    from sreworkbook.sources.range_cache import RangeCache

    if env.prometheus is None:
        raise ParameterError(
            "alert tuning needs a prometheus: section",
            source=env.source_file or None,
            key="prometheus",
        )
    config = env.prometheus
    if timeout_s is not None:
        config = config.model_copy(update={"timeout_s": timeout_s})
    shared = Breaker(threshold=4)  # the run gives up on Prometheus once, as one client would
    cache = RangeCache(cache_dir) if cache_dir is not None else None

    def connect() -> Querier:
        return PrometheusSource.from_config(
            config, environ, session=requests.Session(), breaker=shared, cache=cache
        )

    return connect


def tune_environment(
    env: Environment,
    *,
    root: Path,
    environ: Mapping[str, str],
    rules_file: str = "parameters/alerts.yaml",
    window: str = "30d",
    interval: str = "",
    incidents_file: str = "",
    now: Callable[[], float] = time.time,
    timeout_s: float = 120.0,
    cache: bool = True,
) -> TuningReport:
    """Tune ``rules_file``'s alerts on ``env``'s Prometheus over the last ``window``.

    Evaluations are aligned on the rules' interval (or ``interval``) so that every signal
    shares one grid. With ``cache``, history that has settled is kept under
    ``ROOT/.cache/prometheus`` and not asked for again (the results are the same). Bad
    parameters raise :class:`ParameterError` naming them.
    """
    try:
        span = parse_duration_ms(window)
        every = parse_duration_ms(interval) if interval else None
    except ValueError as exc:
        raise ParameterError(str(exc), key="interval" if interval else "window") from None
    if span <= 0:
        raise ParameterError("must be longer than zero", key="window")
    if every is not None and every <= 0:
        raise ParameterError("must be greater than zero", key="interval")
    path = Path(rules_file)
    rules = load_rules(path if path.is_absolute() else root / path, interval_ms=every)
    align = math.lcm(*({r.interval_ms for r in rules.alerts} or {60_000}))
    end_ms = int(now() * 1000) // align * align
    incidents = incidents_for(env, root=root, path=incidents_file)
    connect = prometheus_connector(
        env, environ, timeout_s=timeout_s, cache_dir=root / CACHE_FOLDER if cache else None
    )
    return tune_rules(
        rules, connect, incidents, start_ms=end_ms - span, end_ms=end_ms, interval_ms=every
    )
