"""The sandbox's Alertmanager (Debian ``prometheus-alertmanager``) and the rules its Prometheus
evaluates.

Alertmanager listens on ``alertmanager.url``'s loopback port, without clustering
(``--cluster.listen-address=``), with the workbook's routing (:mod:`sreworkbook.alerts.alertmanager`)
pointed at the local receivers: Slack and PagerDuty posts go to the webhook receiver (PagerDuty
on ``/pagerduty/v2/enqueue`` with a dummy key when the environment has no PagerDuty), e-mail
to the SMTP sink without TLS. Timings are short so that a demo alert arrives in seconds.

The sandbox's Prometheus loads every ``*.yml`` in its ``rules/`` folder: the seed's rules from
``parameters/alerts.yaml`` as Prometheus reads them, and a ``Watchdog`` that always fires (the
usual dead man's switch) and is routed to the receiver's ``/heartbeat``. Drop more rule files
there to try them live.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sreworkbook.alerts.alertmanager import AlertmanagerFile, RoutingPolicy, alertmanager_config
from sreworkbook.alerts.durations import parse_duration_ms
from sreworkbook.alerts.export import prometheus_rule_file
from sreworkbook.alerts.rules import load_rules
from sreworkbook.alerts.yamlfile import dump_yaml
from sreworkbook.config import Environment, load_yaml
from sreworkbook.exceptions import ParameterError, SandboxError
from sreworkbook.sandbox.layout import Context, endpoint_of
from sreworkbook.sandbox.process import ensure_port_free, http_ok, spawn, wait_ready
from sreworkbook.sandbox.responder_server import responder_token
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = [
    "SANDBOX_POLICY",
    "WATCHDOG_RULES",
    "sandbox_alertmanager_config",
    "sandbox_variant",
    "start_alertmanager",
    "write_rule_files",
]

NAME = "alertmanager"
#: Quick enough for a demo: the first notification of a group after 2 s.
SANDBOX_POLICY = RoutingPolicy(group_wait_ms=2_000, group_interval_ms=30_000)
#: Always firing, so that a silent alerting pipeline is noticed.
WATCHDOG_RULES: dict[str, Any] = {
    "groups": [
        {
            "name": "sandbox-heartbeat",
            "interval": "5s",
            "rules": [
                {
                    "alert": "Watchdog",
                    "expr": "vector(1)",
                    "labels": {"severity": "none"},
                    "annotations": {
                        "summary": "The alerting pipeline works",
                        "description": "Always firing: if it stops arriving, alerts are lost.",
                    },
                }
            ],
        }
    ]
}


def _binary() -> str | None:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: The responder hears of an alert within a second, and of a repeat or resolution in seconds.
RESPONDER_TIMING = {"group_wait": "1s", "group_interval": "5s", "repeat_interval": "20s"}


def sandbox_alertmanager_config(
    env: Environment, *, responder_token: Mapping[str, str] | None = None
) -> AlertmanagerFile:
    """The routing of the exported configuration, pointed at the local receivers (and the
    responder, with ``responder_token`` as ``{VARIABLE: token}``)."""
    hook = endpoint_of(env, "receivers")
    responder = env.responder if responder_token else None
    if hook is None:
        return alertmanager_config(
            env.notifications, policy=SANDBOX_POLICY, secrets="inline",
            environ=dict(responder_token or {}), responder=responder,
            responder_timing=RESPONDER_TIMING,
        )  # fmt: skip
    base = urlsplit(hook.url)._replace(path="", query="").geturl()
    return alertmanager_config(
        env.notifications,
        policy=SANDBOX_POLICY,
        secrets="inline",
        environ=dict(responder_token or {}),
        responder=responder,
        responder_timing=RESPONDER_TIMING,
        pagerduty_url=f"{base}/pagerduty/v2/enqueue",
        pagerduty_routing_key="sandbox-routing-key"
        if env.notifications.pagerduty is None
        else None,
        first_routes=[
            {
                "receiver": "heartbeat",
                "matchers": ['alertname="Watchdog"'],
                "group_wait": "1s",
                "repeat_interval": "1h",
            }
        ],
        extra_receivers=[
            {
                "name": "heartbeat",
                "webhook_configs": [{"url": f"{base}/heartbeat", "send_resolved": False}],
            }
        ],
    )


#: The sandbox-only variant of the seed's rules: quick to fire and to resolve in a demo.
SANDBOX_FOR = "10s"
SANDBOX_WINDOW = "1m"
SANDBOX_INTERVAL = "5s"
_RANGE = re.compile(r"\[(\d+[smh])\]")


def sandbox_variant(document: Mapping[str, Any]) -> dict[str, Any]:
    """The rule file with ``for:`` cut to 10 s, range windows up to 10 m cut to 1 m and groups
    evaluated every 5 s, so that ``sandbox fault`` leads to an alert (and its resolution)
    within a minute or two. Longer windows (the SLO burn rates) are kept."""

    def window(match: re.Match[str]) -> str:
        within = parse_duration_ms(match.group(1)) <= 600_000
        return f"[{SANDBOX_WINDOW}]" if within else match.group(0)

    groups = []
    for group in document.get("groups") or []:
        rules = []
        for item in group.get("rules") or []:
            rule = dict(item)
            if "alert" in rule:
                if rule.get("for") and parse_duration_ms(rule["for"]) > 10_000:
                    rule["for"] = SANDBOX_FOR
                rule["expr"] = _RANGE.sub(window, str(rule["expr"]))
            rules.append(rule)
        groups.append({**group, "interval": SANDBOX_INTERVAL, "rules": rules})
    return {**document, "groups": groups}


def write_rule_files(ctx: Context, folder: Path) -> str:
    """Write the seed's rules (the sandbox variant) and the Watchdog into ``folder``; the
    ``rule_files`` glob."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "watchdog.yml").write_text(dump_yaml(WATCHDOG_RULES), encoding="utf-8")
    source = ctx.layout.root / "parameters" / "alerts.yaml"
    try:
        rules = load_rules(source)
        document = sandbox_variant(prometheus_rule_file(load_yaml(source), rules.alerts))
    except ParameterError as exc:
        ctx.log(f"prometheus: the seed's rules are not loaded — {exc}")
    else:
        (folder / "tradeai.yml").write_text(
            f"# From {source}, the sandbox-only variant (for: {SANDBOX_FOR}, windows of "
            f"{SANDBOX_WINDOW}); written by `sreworkbook sandbox up`.\n" + dump_yaml(document),
            encoding="utf-8",
        )
    return str(folder / "*.yml")


def start_alertmanager(ctx: Context) -> Record:
    """Write the configuration and start Alertmanager on the environment's port."""
    where = ctx.endpoint(NAME)
    binary = _binary()
    if binary is None:
        raise SandboxError(
            "no prometheus-alertmanager on PATH (Debian: apt-get install prometheus-alertmanager)",
            component=NAME,
        )
    ensure_port_free(where.host, where.port, component=NAME)
    home = ctx.layout.dir(NAME)
    config = home / "alertmanager.yml"
    config.write_text(
        sandbox_alertmanager_config(
            ctx.env, responder_token=responder_token(ctx.env, ctx.layout)
        ).to_yaml(written_by="sreworkbook sandbox up"),
        encoding="utf-8",
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address={where.address}",
        f"--web.external-url={where.http}",
        "--cluster.listen-address=",
        "--log.level=info",
    ]
    out = ctx.layout.out(NAME)
    pid, ticks = spawn(NAME, argv, log_path=out, cwd=home)
    wait_ready(NAME, lambda: http_ok(where.http + "/-/ready"), pid=pid, timeout_s=30, log_path=out)
    return Record(
        NAME, RUNNING, pid, ticks, where.url, f"{Path(binary).name}, routing to the local receivers",
        backend="alertmanager",
    )  # fmt: skip
