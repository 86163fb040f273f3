"""What the alert-tuning report reviews besides the scores: the SLOs' burn-rate rules at the
traffic actually seen, the notifications the routing would have sent before and after tuning,
and the run's verdict (status, headline, metrics, findings)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.export import ExportBundle
from sreworkbook.alerts.routing import routing_from_config
from sreworkbook.alerts.ruletests import Querier
from sreworkbook.alerts.simulate import SimAlert, SimulationResult, alerts_from_instances, simulate
from sreworkbook.alerts.slo import (
    WORKBOOK_WINDOWS,
    burn_rate_rules,
    burn_warnings,
    single_failure_burn,
    slo_spec,
)
from sreworkbook.alerts.tuning import TuningReport
from sreworkbook.alerts.validate import ToolCheck
from sreworkbook.config import Environment
from sreworkbook.exceptions import SourceError
from sreworkbook.known_incidents import Incident as KnownIncident
from sreworkbook.results import Conclusion, Finding, Status, worst

__all__ = [
    "SLOReview",
    "assess",
    "known_incidents",
    "review_slos",
    "simulate_report",
]


@dataclass(frozen=True)
class SLOReview:
    """One SLO: its burn-rate alerts, the traffic seen, the burn one failure causes per window."""

    name: str
    objective: float
    alerts: tuple[str, ...]
    recording_rules: int
    mean_rps: float | None
    quietest_rps: float | None
    single_failure_burn: tuple[tuple[str, float, float], ...]
    warnings: tuple[str, ...]


def _traffic(client: Querier, job: str, start_ms: int, end_ms: int) -> tuple[float, float] | None:
    expr = f'sum(rate(http_request_duration_seconds_count{{job="{job}"}}[1h]))'
    frame = client.query_range(expr, start_ms / 1000, end_ms / 1000, 3600.0)
    values = frame["value"].dropna().tolist() if not frame.empty else []
    return (statistics.fmean(values), min(values)) if values else None


def review_slos(env: Environment, report: TuningReport) -> tuple[SLOReview, ...]:
    """Each SLO of ``env`` at the traffic of the report's window (its quietest hour decides
    whether one failed request trips a burn-rate alert)."""
    if not env.slos:
        return ()
    job = env.prometheus.job if env.prometheus else "tradeai-backend"
    traffic: tuple[float, float] | None = None
    if report.connect is not None:
        try:
            traffic = _traffic(report.connect(), job, report.start_ms, report.end_ms)
        except SourceError:
            traffic = None
    out = []
    for slo in env.slos:
        spec = slo_spec(slo, job=job)
        recording, alerts = burn_rate_rules(spec)
        quietest = traffic[1] if traffic else None
        burns = tuple(
            (
                format_duration_ms(w.short_ms),
                w.factor,
                single_failure_burn(quietest, w.short_ms, slo.objective)
                if quietest
                else float("inf"),
            )
            for w in WORKBOOK_WINDOWS
        )
        warnings = (
            burn_warnings(spec, quietest)
            if quietest is not None
            else [f"{slo.name}: no traffic measured, so the burn-rate alerts cannot be judged"]
        )
        out.append(
            SLOReview(
                slo.name,
                slo.objective,
                tuple(a.name for a in alerts),
                len(recording),
                traffic[0] if traffic else None,
                quietest,
                burns,
                tuple(warnings),
            )
        )
    return tuple(out)


def _alerts(report: TuningReport, bundle: ExportBundle, *, tuned: bool) -> list[SimAlert]:
    exported = {a.name: a for a in bundle.alerts}
    out: list[SimAlert] = []
    for t in report.tunings:
        instances = t.tuned_instances if tuned else t.result.instances
        extra = exported[t.rule.name].labels if t.rule.name in exported else {}
        for made in alerts_from_instances(
            t.rule.name, instances, interval_ms=t.rule.interval_ms, end_ms=report.end_ms
        ):
            labels = {**{k: v for k, v in extra.items() if k not in made.labels}, **made.labels}
            out.append(SimAlert(labels, made.firing_ms, made.resolved_ms, made.starts_ms))
    return out


def simulate_report(
    report: TuningReport, bundle: ExportBundle
) -> tuple[SimulationResult, SimulationResult]:
    """The exported routing replayed with the episodes as written and as tuned."""
    routing = routing_from_config(bundle.alertmanager.config)
    span = {"start_ms": report.start_ms, "end_ms": report.end_ms}
    return (
        simulate(routing, _alerts(report, bundle, tuned=False), **span),
        simulate(routing, _alerts(report, bundle, tuned=True), **span),
    )


def known_incidents(report: TuningReport) -> tuple[KnownIncident, ...]:
    """The report's incidents, for the charts to shade."""
    return tuple(report.incidents)


def assess(
    report: TuningReport,
    bundle: ExportBundle,
    checks: Sequence[ToolCheck],
    simulated: tuple[SimulationResult, SimulationResult],
    slos: Sequence[SLOReview] = (),
) -> Conclusion:
    """Status, headline, metrics and findings of an alert-tuning run.

    CRIT: a known incident no current rule catches, or an exported file a tool rejects.
    UNKNOWN: a rule whose history could not be read (Prometheus down): nothing measured, so
    an incident no measured rule caught is not judged either.
    WARN: a rule that cannot be backtested as written, a recommended change, an SLO warning,
    a tool that is not installed. OK otherwise.
    """
    metrics = report.metrics()
    before, after = simulated
    metrics.update(
        {
            "test_cases": float(len(bundle.cases)),
            "checks_failed": float(sum(c.status == "failed" for c in checks)),
            "pages_simulated_before": float(before.pages),
            "pages_simulated_after": float(after.pages),
            "messages_simulated_before": float(before.messages),
            "messages_simulated_after": float(after.messages),
        }
    )
    findings = list(report.problems)
    caught, _ = report.caught(tuned=False)
    missed = [i.name for i in report.incidents if i.name not in caught]
    unmeasured = [f for f in report.problems if f.severity is Status.UNKNOWN]
    if missed and unmeasured:  # a rule that was never backtested may well catch them
        findings.append(
            Finding(
                Status.UNKNOWN,
                "Known incidents not judged",
                f"{', '.join(missed)}: {len(unmeasured)} of {len(report.rules.alerts)} rules "
                "could not be backtested",
            )
        )
    elif missed:
        findings.append(
            Finding(Status.CRIT, "Known incidents the current rules miss", ", ".join(missed))
        )
    for check in checks:
        if check.status == "failed":
            findings.append(
                Finding(Status.CRIT, f"{check.name} rejects {check.file}", check.output)
            )
        elif check.status == "skipped":
            findings.append(Finding(Status.WARN, f"{check.name} not run", check.output))
    for t in report.tunings:
        if t.changed:
            findings.append(Finding(Status.WARN, f"Retune {t.rule.name}", t.recommendation.reason))
    for slo in slos:
        findings += [Finding(Status.WARN, f"SLO {slo.name}", w) for w in slo.warnings]
    status = worst(f.severity for f in findings)
    total = len(report.incidents)
    after_caught, _ = report.caught(tuned=True)
    delay = metrics.get("median_detection_delay_s")
    shown = f", median detection {delay / 60:.1f} min" if delay is not None else ""
    failed = [c.name for c in checks if c.status == "failed"]
    verdict = (
        f"the export fails {', '.join(failed)}"
        if failed
        else "the export passes promtool and amtool"
        if all(c.passed for c in checks)
        else "the export was not fully validated"
    )
    if report.rules.alerts and not report.tunings:
        reason = unmeasured[0].detail if unmeasured else "no rule could be backtested"
        headline = f"Nothing was measured: no rule could be backtested ({reason})."
        return Conclusion(status, headline, metrics, tuple(findings))
    headline = (
        f"The current rules catch {len(caught)}/{total} known incidents at "
        f"{metrics['pages_per_week_before']:.1f} pages/week; tuned, {len(after_caught)}/{total} "
        f"at {metrics['pages_per_week_after']:.1f}{shown}; {verdict}."
    )
    return Conclusion(status, headline, metrics, tuple(findings))
