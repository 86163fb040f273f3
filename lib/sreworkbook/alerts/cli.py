"""``sreworkbook alerts ...``: backtest alert rules against a Prometheus history, and export
tuned rules, promtool tests and an Alertmanager configuration.

``register(subparsers)`` adds the ``alerts`` command; each action's handler has the CLI's
signature ``(args, root, outputs) -> int`` and raises
:class:`~sreworkbook.exceptions.ParameterError` on bad input (exit 64).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from sreworkbook import timeutil
from sreworkbook.alerts.durations import parse_duration_ms
from sreworkbook.alerts.prometheus_api import RuleBacktest, backtest_rules, instances_json
from sreworkbook.alerts.rules import load_rules
from sreworkbook.exceptions import ParameterError
from sreworkbook.known_incidents import Incident, load_incidents

__all__ = ["parse_time", "register"]


def parse_time(text: str, *, now: Callable[[], float] = time.time, key: str = "time") -> int:
    """Epoch milliseconds from any time :func:`sreworkbook.timeutil.parse_time` reads
    (RFC 3339, a date, epoch seconds, ``now``, ``now-7d``, ``now-1.5h``); a
    ``ParameterError`` naming ``key`` otherwise."""
    moment = timeutil.parse_time(text, now=lambda: datetime.fromtimestamp(now(), UTC), name=key)
    return round(moment.timestamp() * 1000)


def _rules_path(given: str, root: Path) -> Path:
    path = Path(given)
    if path.is_file() or path.is_absolute():
        return path
    return root / path if (root / path).is_file() else path


def _prometheus_url(args: argparse.Namespace, root: Path) -> str:
    if args.prometheus:
        url = str(args.prometheus)
    else:
        from sreworkbook.config import load_environment

        env = load_environment(args.env, root=root)
        if env.prometheus is None:
            raise ParameterError(
                "no --prometheus given and the environment has no prometheus.url",
                source=env.source_file,
                key="prometheus",
            )
        url = env.secret(env.prometheus.url, os.environ, key="prometheus.url")
    if not url.startswith(("http://", "https://")):
        raise ParameterError(f"must be an http(s) URL, got {url!r}", key="--prometheus")
    return url


def _backtest(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.sources.prometheus import PrometheusSource

    interval_ms = None
    if args.interval:
        try:
            interval_ms = parse_duration_ms(args.interval)
        except ValueError as exc:
            raise ParameterError(str(exc), key="--interval") from None
        if interval_ms <= 0:
            raise ParameterError("must be greater than zero", key="--interval")
    start_ms = parse_time(args.start, key="--start")
    end_ms = parse_time(args.end, key="--end")
    if end_ms < start_ms:
        raise ParameterError("must not be before --start", key="--end")
    rules = load_rules(_rules_path(args.rules, root), interval_ms=interval_ms)
    incidents = load_incidents(Path(args.incidents)) if args.incidents else None
    url = _prometheus_url(args, root)
    with requests.Session() as session:
        client = PrometheusSource(url, session=session, timeout_s=args.timeout)
        results = backtest_rules(rules.alerts, client, start_ms=start_ms, end_ms=end_ms)
    if args.json:
        payload = instances_json(results)
        if incidents is not None:
            _mark_incidents(payload, results, incidents)
        print(json.dumps(payload, indent=2))
        return 0
    for result in results:
        count = sum(len(i.episodes) for i in result.instances)
        print(f"{result.rule.name}: {len(result.instances)} instance(s), {count} episode(s)")
        for instance in result.instances:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(instance.labels.items()))
            for episode in instance.episodes:
                first, last = episode.to_json()
                print(f"  {{{labels}}} firing {first} .. {last}")
    if incidents is not None:
        from sreworkbook.alerts.scoring import score_instances, score_table

        scores = [
            score_instances(
                r.rule,
                r.instances,
                incidents,
                start_ms=start_ms,
                end_ms=end_ms,
                kind=rules.tuning[r.rule.name].kind if r.rule.name in rules.tuning else "",
            )
            for r in results
        ]
        print()
        print(score_table(scores))
    return 0


def _mark_incidents(
    payload: list[dict[str, Any]], results: Sequence[RuleBacktest], incidents: Sequence[Incident]
) -> None:
    """Add to each instance the names of the incidents its episodes overlap."""
    flat = [instance for result in results for instance in result.instances]
    for item, instance in zip(payload, flat, strict=True):
        item["incidents"] = sorted(
            {
                i.name
                for i in incidents
                for e in instance.episodes
                if e.first_ms <= i.end_ms and e.last_ms >= i.start_ms
            }
        )


def _export(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.alerts.export import export_bundle
    from sreworkbook.alerts.tuning import tune_environment
    from sreworkbook.alerts.validate import validate_export
    from sreworkbook.config import PrometheusConfig, load_environment

    env = load_environment(args.env, root=root)
    if args.prometheus:
        url = _prometheus_url(args, root)
        config = env.prometheus or PrometheusConfig(url=url)
        env = env.model_copy(update={"prometheus": config.model_copy(update={"url": url})})
    report = tune_environment(
        env,
        root=root,
        environ=os.environ,
        rules_file=str(_rules_path(args.rules, root)),
        window=args.window,
        interval=args.interval or "",
        incidents_file=args.incidents or "",
        timeout_s=args.timeout,
    )
    for problem in report.problems:
        print(f"warning: {problem.title}: {problem.detail}")
    bundle = export_bundle(
        report,
        env,
        out_dir=Path(args.out).resolve(),
        outputs=outputs,
        base_url=args.runbook_base_url or "",
        secrets_dir=args.secrets_dir,
        tuned=not args.no_tune,
    )
    for tuning in report.tunings:
        mark = "tuned" if tuning.changed and not args.no_tune else "kept "
        print(f"{mark} {tuning.rule.name}: {tuning.recommendation.reason}")
    print(f"{len(bundle.cases)} promtool test case(s) from real episodes")
    for name, why in bundle.skipped:
        print(f"  no test for {name}: {why}")
    for path in bundle.files():
        print(f"wrote {path}")
    if args.no_validate:
        return 0
    failed = False
    for check in validate_export(bundle.out_dir):
        print(f"{check.status.upper():7} {check.name} {check.file}")
        if check.status == "failed":
            failed = True
            print("        " + check.output.replace("\n", "\n        "))
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """Add ``alerts`` and its actions to the CLI's sub-parsers."""
    alerts = subparsers.add_parser("alerts", help="backtest and tune alert rules")
    actions = alerts.add_subparsers(dest="alerts_action", required=True)
    bt = actions.add_parser(
        "backtest",
        help="replay rules over a Prometheus history with Prometheus's alert semantics",
    )
    bt.add_argument(
        "--rules", required=True, help="parameters/alerts.yaml or a Prometheus rule file"
    )
    bt.add_argument("--prometheus", help="Prometheus URL (default: the environment's)")
    bt.add_argument("--env", default="sandbox", help="environment giving the Prometheus URL")
    bt.add_argument("--start", required=True, help="RFC 3339, epoch seconds or now-30d")
    bt.add_argument("--end", required=True, help="RFC 3339, epoch seconds or now")
    bt.add_argument("--interval", help="evaluation interval for every rule (e.g. 15s)")
    bt.add_argument(
        "--incidents", help="incidents JSON (name, start, end, severity) to score against"
    )
    bt.add_argument("--timeout", type=float, default=30.0, help="seconds per query (default 30)")
    bt.add_argument("--json", action="store_true", help="print the alert instances as JSON")
    bt.set_defaults(handler=_backtest)
    ex = actions.add_parser(
        "export",
        help="write tuned rules.yml, a promtool rules.test.yml and an alertmanager.yml",
    )
    ex.add_argument("--env", default="sandbox", help="environment (Prometheus, notifications)")
    ex.add_argument("--out", required=True, help="folder to write the files into")
    ex.add_argument("--rules", default="parameters/alerts.yaml", help="rule file to tune")
    ex.add_argument("--window", default="30d", help="history to tune on (default 30d)")
    ex.add_argument("--interval", help="evaluation interval for every rule (e.g. 15s)")
    ex.add_argument("--incidents", help="incidents file (default: the sandbox's own)")
    ex.add_argument("--prometheus", help="Prometheus URL (default: the environment's)")
    ex.add_argument(
        "--runbook-base-url", help="where outputs/ is served, for runbook_url (default: relative)"
    )
    ex.add_argument(
        "--secrets-dir",
        default="/etc/alertmanager/secrets",
        help="where Alertmanager reads its secret files (default /etc/alertmanager/secrets)",
    )
    ex.add_argument("--no-tune", action="store_true", help="export the rules as written")
    ex.add_argument("--no-validate", action="store_true", help="skip promtool and amtool")
    ex.add_argument("--timeout", type=float, default=120.0, help="seconds per query")
    ex.set_defaults(handler=_export)
