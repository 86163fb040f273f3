"""Export what the tuning found as files the real tools take.

``DIR/rules.yml``
    The rule file as Prometheus reads it: the groups of ``alerts.yaml`` (the workbook's own keys
    removed, each group's interval written out), every alert with its recommended threshold,
    ``for`` and ``keep_firing_for``, a ``severity`` label, ``summary``/``description``
    annotations and a ``runbook_url`` to the latest report of its runbook notebook.
``DIR/rules.test.yml``
    A ``promtool test rules`` file built from real episodes (:mod:`.ruletests`).
``DIR/alertmanager.yml``
    Routing by severity with grouping, timing and inhibition (:mod:`.alertmanager`), secrets
    as ``*_file`` paths.
``DIR/README.md``
    What the files are, which secret files the deploy step must write, what was left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sreworkbook.alerts.alertmanager import (
    DEFAULT_SECRETS_DIR,
    AlertmanagerFile,
    RoutingPolicy,
    alertmanager_config,
)
from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.expr import format_number
from sreworkbook.alerts.rules import AlertRule, parse_rules
from sreworkbook.alerts.ruletests import (
    CaseSkipped,
    Querier,
    RuleTestCase,
    build_case,
    rule_test_document,
)
from sreworkbook.alerts.selectors import PromQLUnsupported, lead_ms
from sreworkbook.alerts.signal import rfc3339_ms
from sreworkbook.alerts.tuning import RuleTuning, TuningReport
from sreworkbook.alerts.yamlfile import dump_yaml
from sreworkbook.config import Environment, load_yaml
from sreworkbook.exceptions import OutputError, ParameterError

if TYPE_CHECKING:
    from sreworkbook.reports.ledger import Ledger

__all__ = [
    "ExportBundle",
    "decorate",
    "export_bundle",
    "prometheus_rule_file",
    "runbook_for",
    "runbook_url",
]

#: Runbook notebooks (under ``notebooks/runbooks``) for alerts without a ``runbook`` annotation.
_SLO_RUNBOOKS = {"availability": "high_error_rate", "latency": "slow_api_response"}
#: A longer look-back makes promtool slow (an SLO page rule looking back 6 h costs ~30 s).
_LONGEST_LEAD_MS = 3_600_000


@dataclass(frozen=True)
class ExportBundle:
    """The files written and what went into them."""

    out_dir: Path
    alerts: tuple[AlertRule, ...]
    cases: tuple[RuleTestCase, ...]
    skipped: tuple[tuple[str, str], ...]
    alertmanager: AlertmanagerFile
    runbook_urls: Mapping[str, str]

    @property
    def rules_file(self) -> Path:
        return self.out_dir / "rules.yml"

    @property
    def tests_file(self) -> Path:
        return self.out_dir / "rules.test.yml"

    @property
    def alertmanager_file(self) -> Path:
        return self.out_dir / "alertmanager.yml"

    @property
    def readme_file(self) -> Path:
        return self.out_dir / "README.md"

    def files(self) -> tuple[Path, ...]:
        return (self.rules_file, self.tests_file, self.alertmanager_file, self.readme_file)


def runbook_for(rule: AlertRule) -> str:
    """The runbook notebook's name for ``rule`` ("" when it has none)."""
    named = rule.annotations.get("runbook", "")
    return named or _SLO_RUNBOOKS.get(rule.labels.get("slo", ""), "")


def runbook_url(notebook: str, *, ledger: Ledger, env: str, base_url: str = "") -> str:
    """Where the latest report of runbook ``notebook`` on ``env`` is: ``runs/.../report.html``
    under the outputs folder, prefixed with ``base_url`` when given. Before any run it is the
    notebook itself, ``notebooks/runbooks/NAME.ipynb``."""
    latest = ledger.latest(notebook=notebook, env=env)
    if latest is None or not latest.report:
        return f"notebooks/runbooks/{notebook}.ipynb"
    return f"{base_url.rstrip('/')}/{latest.report}" if base_url else latest.report


def decorate(rule: AlertRule, *, original: AlertRule, runbook: str, span: str) -> AlertRule:
    """``rule`` ready to deploy: a severity, summary and description, ``runbook_url``, and a
    ``tuning`` note when it differs from ``original``."""
    labels = dict(rule.labels)
    labels.setdefault("severity", "warning")
    notes = dict(rule.annotations)
    notes.setdefault("summary", f"{rule.name} is firing")
    notes.setdefault(
        "description",
        f"{rule.name}: the condition held for {format_duration_ms(rule.for_ms)} "
        f"(evaluated every {format_duration_ms(rule.interval_ms)}).",
    )
    if runbook:
        notes["runbook_url"] = runbook
    changes = []
    if rule.threshold != original.threshold and rule.threshold is not None:
        changes.append(
            f"threshold {format_number(original.threshold or 0.0)} → {format_number(rule.threshold)}"
        )
    if rule.for_ms != original.for_ms:
        changes.append(
            f"for {format_duration_ms(original.for_ms)} → {format_duration_ms(rule.for_ms)}"
        )
    if rule.keep_firing_for_ms != original.keep_firing_for_ms:
        changes.append(
            f"keep_firing_for {format_duration_ms(original.keep_firing_for_ms)} → "
            f"{format_duration_ms(rule.keep_firing_for_ms)}"
        )
    if changes:
        notes["tuning"] = f"Tuned on {span}: {', '.join(changes)}."
    return replace(rule, labels=labels, annotations=notes)


def prometheus_rule_file(raw: Mapping[str, Any], alerts: Sequence[AlertRule]) -> dict[str, Any]:
    """``raw`` (a rule file as read) as Prometheus reads it, with ``alerts`` in place of its
    alerting rules, in file order; recording rules are kept as they are."""
    queue = list(alerts)
    groups = []
    default = raw.get("evaluation_interval")
    for group in raw.get("groups") or []:
        out: dict[str, Any] = {"name": group["name"]}
        interval = group.get("interval", default)
        if interval is not None:
            out["interval"] = interval
        if group.get("limit"):
            out["limit"] = group["limit"]
        rules = []
        for item in group.get("rules") or []:
            if "alert" in item:
                if not queue:
                    raise ParameterError("more alerts in the file than were exported")
                rules.append(queue.pop(0).to_prometheus())
            else:
                rules.append(dict(item))
        out["rules"] = rules
        groups.append(out)
    if queue:
        raise ParameterError(f"{len(queue)} exported alert(s) have no place in the rule file")
    return {"groups": groups}


def _cases(
    report: TuningReport, alerts: Sequence[AlertRule], client: Querier
) -> tuple[list[RuleTestCase], list[tuple[str, str]]]:
    """One case per alert that fires in the history, all at the most common interval (promtool
    evaluates every group at the test file's ``evaluation_interval``)."""
    tunings: dict[tuple[str, str], RuleTuning] = {
        (t.rule.group, t.rule.name): t for t in report.tunings
    }
    every = Counter(a.interval_ms for a in alerts).most_common(1)[0][0] if alerts else 60_000
    cases: list[RuleTestCase] = []
    skipped: list[tuple[str, str]] = []
    for alert in alerts:
        tuning = tunings.get((alert.group, alert.name))
        if tuning is None:
            skipped.append((alert.name, "it was not backtested"))
            continue
        try:
            if lead_ms(alert.signal) > _LONGEST_LEAD_MS:
                raise CaseSkipped(
                    f"it looks back {format_duration_ms(lead_ms(alert.signal))}, longer than a "
                    "test window should"
                )
            history = tuning.result.signal
            rule = replace(alert, interval_ms=history.grid.step_ms)
            cases.append(
                build_case(rule, history, client, incidents=report.incidents, eval_ms=every)
            )
        except (CaseSkipped, PromQLUnsupported) as exc:
            skipped.append((alert.name, str(exc)))
    return cases, skipped


def _readme(bundle: ExportBundle, report: TuningReport, env: Environment) -> str:
    span = f"{rfc3339_ms(report.start_ms)} .. {rfc3339_ms(report.end_ms)}"
    lines = [
        f"# Alerting for {env.name}",
        "",
        f"Written by `sreworkbook alerts export` from `{report.rules.source}`, tuned on {span}.",
        "",
        "| file | what | check with |",
        "| --- | --- | --- |",
        "| rules.yml | Prometheus rule file | `promtool check rules rules.yml` |",
        "| rules.test.yml | tests built from real episodes | `promtool test rules rules.test.yml` |",
        "| alertmanager.yml | routing, grouping, inhibition | `amtool check-config alertmanager.yml` |",
        "",
        "## Tuning",
        "",
    ]
    for t in report.tunings:
        lines.append(f"- **{t.rule.name}**: {t.recommendation.reason}")
    lines += ["", "## Secret files the deploy step writes", ""]
    if not bundle.alertmanager.secret_files:
        lines.append("None.")
    for f in bundle.alertmanager.secret_files:
        source = f"`${{{f.reference}}}`" if f.reference else f"the value of `{f.what}`"
        lines.append(f"- `{f.path}` ← {source} ({f.what})")
    if bundle.alertmanager.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in bundle.alertmanager.notes]
    lines += ["", "## Alerts without a test", ""]
    lines += [f"- {name}: {why}" for name, why in bundle.skipped] or ["None."]
    return "\n".join(lines) + "\n"


def export_bundle(
    report: TuningReport,
    env: Environment,
    *,
    out_dir: Path,
    outputs: Path,
    client: Querier | None = None,
    base_url: str = "",
    secrets_dir: str = DEFAULT_SECRETS_DIR,
    policy: RoutingPolicy | None = None,
    tuned: bool = True,
) -> ExportBundle:
    """Write ``rules.yml``, ``rules.test.yml``, ``alertmanager.yml`` and ``README.md``.

    ``tuned=False`` exports the rules as written. ``client`` (default: the report's own
    connection) reads the raw samples for the tests.
    """
    from sreworkbook.reports.ledger import Ledger

    span = f"{rfc3339_ms(report.start_ms)} .. {rfc3339_ms(report.end_ms)}"
    ledger = Ledger(outputs / "ledger.jsonl")
    urls: dict[str, str] = {}
    alerts = []
    chosen = report.exported_rules() if tuned else list(report.rules.alerts)
    for rule, original in zip(chosen, report.rules.alerts, strict=True):
        book = runbook_for(original)
        url = runbook_url(book, ledger=ledger, env=env.name, base_url=base_url) if book else ""
        if url:
            urls[rule.name] = url
        alerts.append(decorate(rule, original=original, runbook=url, span=span))
    raw = load_yaml(Path(report.rules.source))
    document = prometheus_rule_file(raw, alerts)
    parse_rules(document, source="rules.yml")  # what we write must read back
    if client is None:
        if report.connect is None:
            raise ParameterError("no Prometheus connection to read the test samples with")
        client = report.connect()
    cases, skipped = _cases(report, alerts, client)
    manager = alertmanager_config(
        env.notifications, policy=policy, secrets_dir=secrets_dir, responder=env.responder
    )
    bundle = ExportBundle(out_dir, tuple(alerts), tuple(cases), tuple(skipped), manager, urls)
    header = f"# Written by `sreworkbook alerts export` for {env.name}, tuned on {span}.\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        bundle.rules_file.write_text(header + dump_yaml(document), encoding="utf-8")
        bundle.tests_file.write_text(
            header + dump_yaml(rule_test_document(cases, rule_file="rules.yml")), encoding="utf-8"
        )
        bundle.alertmanager_file.write_text(manager.to_yaml(), encoding="utf-8")
        bundle.readme_file.write_text(_readme(bundle, report, env), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the export to {out_dir}: {exc}") from exc
    return bundle
