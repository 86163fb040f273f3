"""Write an Alertmanager configuration from an environment's ``notifications`` section.

The routing follows the seed (Slack for critical issues, e-mail for warnings, PagerDuty for
24/7 on-call) and the usual Alertmanager practice:

=============  ======================  ===========================
severity       receiver                integrations
=============  ======================  ===========================
``critical``   ``oncall-critical``     PagerDuty + Slack
``warning``    ``team-warning``        Slack + e-mail
anything else  ``team-slack``          Slack
=============  ======================  ===========================

Alerts are grouped by ``alertname`` and ``job``; an inhibit rule mutes a ``warning`` alert
while a ``critical`` one with the same ``alertname`` and ``job`` fires (its twin), and another
mutes an SLO's warning (ticket) burn-rate alert while its critical (page) one fires.

Alertmanager cannot read ``${ENV}`` references. Its 0.25 release reads secrets from files
instead (``slack_api_url_file``/``api_url_file``, ``routing_key_file``,
``smtp_auth_password_file``/``auth_password_file``), so with ``secrets="files"`` (the
export) each secret becomes a file path under ``secrets_dir`` named after its reference, and
:attr:`AlertmanagerFile.secret_files` says what the deploy step must write there. With
``secrets="inline"`` (the sandbox, whose values are loopback URLs and not secrets) the values
are written as they are; references are resolved from ``environ``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.yamlfile import dump_yaml
from sreworkbook.config import NotificationsConfig, ResponderConfig
from sreworkbook.exceptions import ParameterError
from sreworkbook.secrets import references, resolve

__all__ = [
    "DEFAULT_SECRETS_DIR",
    "AlertmanagerFile",
    "RoutingPolicy",
    "SecretFile",
    "alertmanager_config",
]

DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
_H = 3_600_000

_SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})"
)
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
    "{{ end }}"
)
_PAGERDUTY_DESCRIPTION = (
    "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}"
    "{{ if gt (len .Alerts.Firing) 1 }} ({{ .Alerts.Firing | len }} alerts){{ end }}"
)


@dataclass(frozen=True)
class RoutingPolicy:
    """Grouping and timing. ``None`` repeat intervals inherit ``repeat_interval_ms``."""

    group_by: tuple[str, ...] = ("alertname", "job")
    group_wait_ms: int = 30_000
    group_interval_ms: int = 300_000
    repeat_interval_ms: int = 4 * _H
    critical_repeat_interval_ms: int | None = 1 * _H
    warning_repeat_interval_ms: int | None = 12 * _H
    resolve_timeout_ms: int = 300_000


@dataclass(frozen=True)
class SecretFile:
    """A file the deploy step writes next to Alertmanager: ``path`` ← ``${reference}``."""

    path: str
    reference: str
    what: str


@dataclass(frozen=True)
class AlertmanagerFile:
    """The configuration, and the secret files it refers to."""

    config: Mapping[str, Any]
    secret_files: tuple[SecretFile, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_yaml(self, *, written_by: str = "sreworkbook alerts export") -> str:
        header = f"# Written by `{written_by}`; check with `amtool check-config`.\n"
        if self.secret_files:
            header += "# Secrets are not in this file: see the *_file paths.\n"
        return header + dump_yaml(dict(self.config))


class _Secrets:
    """Turns a secret-bearing value into config keys: a file path, or the value inline."""

    def __init__(
        self, mode: Literal["files", "inline"], folder: str, environ: Mapping[str, str] | None
    ) -> None:
        self.mode = mode
        self.folder = folder.rstrip("/")
        self.environ = environ
        self.files: list[SecretFile] = []

    def put(
        self, target: dict[str, Any], key: str, value: str, *, what: str, fallback: str
    ) -> None:
        """Set ``key`` (or ``key_file``) in ``target`` for the secret ``value``."""
        if self.mode == "inline":
            target[key] = (
                resolve(value, self.environ or {}, key=what) if references(value) else value
            )
            return
        names = references(value)
        name = names[0] if len(names) == 1 and value.strip() == f"${{{names[0]}}}" else fallback
        path = f"{self.folder}/{name}"
        target[f"{key}_file"] = path
        if all(f.path != path for f in self.files):
            self.files.append(SecretFile(path, names[0] if names else "", what))


def _plain(value: str, what: str, notes: list[str], environ: Mapping[str, str] | None) -> str:
    """A value that is not a secret but may still be a reference (Alertmanager cannot expand)."""
    if not references(value):
        return value
    if environ is not None:
        return resolve(value, environ, key=what)
    notes.append(f"{what} is {value}: the deploy step must template it (Alertmanager cannot)")
    return value


def _slack(
    notifications: NotificationsConfig, secrets: _Secrets, global_: dict[str, Any]
) -> dict[str, Any] | None:
    slack = notifications.slack
    if slack is None:
        return None
    if secrets.mode == "files":
        secrets.put(
            global_, "slack_api_url", slack.webhook_url, what="notifications.slack.webhook_url",
            fallback="slack_webhook_url",
        )  # fmt: skip
    out: dict[str, Any] = {}
    if slack.channel:
        out["channel"] = slack.channel
    if secrets.mode == "inline":
        secrets.put(out, "api_url", slack.webhook_url, what="notifications.slack.webhook_url",
                    fallback="slack_webhook_url")  # fmt: skip
    out.update({"send_resolved": True, "title": _SLACK_TITLE, "text": _SLACK_TEXT})
    return out


def _email(
    notifications: NotificationsConfig,
    secrets: _Secrets,
    notes: list[str],
    environ: Mapping[str, str] | None,
) -> dict[str, Any] | None:
    email = notifications.email
    if email is None:
        return None
    host = _plain(email.smtp_host, "notifications.email.smtp_host", notes, environ)
    out: dict[str, Any] = {
        "to": ", ".join(_plain(t, "notifications.email.to", notes, environ) for t in email.to),
        "from": _plain(email.from_addr, "notifications.email.from_addr", notes, environ),
        "smarthost": f"{host}:{email.smtp_port}",
        "require_tls": bool(email.starttls),
        "send_resolved": False,
    }
    if email.username:
        out["auth_username"] = _plain(
            email.username, "notifications.email.username", notes, environ
        )
    if email.password:
        secrets.put(out, "auth_password", email.password, what="notifications.email.password",
                    fallback="smtp_password")  # fmt: skip
    return out


def _pagerduty(
    notifications: NotificationsConfig,
    secrets: _Secrets,
    url: str | None,
    routing_key: str | None,
) -> dict[str, Any] | None:
    if notifications.pagerduty is None and routing_key is None:
        return None
    out: dict[str, Any] = {}
    key = routing_key if routing_key is not None else notifications.pagerduty.routing_key  # type: ignore[union-attr]
    secrets.put(out, "routing_key", key, what="notifications.pagerduty.routing_key",
                fallback="pagerduty_routing_key")  # fmt: skip
    url = url or (notifications.pagerduty.events_url if notifications.pagerduty else None)
    if url:
        out["url"] = url
    out.update(
        {"send_resolved": True, "severity": "critical", "description": _PAGERDUTY_DESCRIPTION}
    )
    return out


def _receiver(name: str, **integrations: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    for kind, config in integrations.items():
        if config is not None:
            out[f"{kind}_configs"] = [dict(config)]
    return out


def _route(receiver: str, severity: str, repeat_ms: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": receiver, "matchers": [f'severity="{severity}"']}
    if repeat_ms is not None:
        out["repeat_interval"] = format_duration_ms(repeat_ms)
    return out


def _responder(config: ResponderConfig, url: str | None, secrets: _Secrets) -> dict[str, Any]:
    """The webhook receiver of ``sreworkbook respond serve`` (bearer token as a secret)."""
    authorization: dict[str, Any] = {"type": "Bearer"}
    secrets.put(authorization, "credentials", config.token, what="responder.token",
                fallback="responder_token")  # fmt: skip
    hook = {
        "url": url or config.url or f"http://{config.listen}/webhook",
        "send_resolved": True,
        "max_alerts": 0,
        "http_config": {"authorization": authorization},
    }
    return {"name": "responder", "webhook_configs": [hook]}


def alertmanager_config(
    notifications: NotificationsConfig,
    *,
    policy: RoutingPolicy | None = None,
    secrets: Literal["files", "inline"] = "files",
    secrets_dir: str = DEFAULT_SECRETS_DIR,
    environ: Mapping[str, str] | None = None,
    pagerduty_url: str | None = None,
    pagerduty_routing_key: str | None = None,
    first_routes: Sequence[Mapping[str, Any]] = (),
    extra_receivers: Sequence[Mapping[str, Any]] = (),
    responder: ResponderConfig | None = None,
    responder_url: str | None = None,
    responder_timing: Mapping[str, str] | None = None,
) -> AlertmanagerFile:
    """The configuration for ``notifications`` (see the module's table).

    ``pagerduty_url``/``pagerduty_routing_key`` point PagerDuty elsewhere (the sandbox's local
    receiver); ``first_routes``/``extra_receivers`` are put before the severity routes (e.g.
    a heartbeat). A missing channel leaves its integration out; a receiver may end with none.
    With ``responder``, every alert also goes (``continue: true``) to its webhook at
    ``responder_url`` (default: its ``url``, else its ``listen`` address), with the bearer
    token as a secret; ``responder_timing`` sets that route's group_wait and friends.
    """
    policy = policy or RoutingPolicy()
    if secrets not in ("files", "inline"):
        raise ParameterError(f"secrets must be 'files' or 'inline', not {secrets!r}")
    keeper = _Secrets(secrets, secrets_dir, environ)
    notes: list[str] = []
    global_: dict[str, Any] = {"resolve_timeout": format_duration_ms(policy.resolve_timeout_ms)}
    slack = _slack(notifications, keeper, global_)
    email = _email(notifications, keeper, notes, environ if secrets == "inline" else None)
    pagerduty = _pagerduty(notifications, keeper, pagerduty_url, pagerduty_routing_key)
    for name, present in (("slack", slack), ("email", email), ("pagerduty", pagerduty)):
        if present is None:
            notes.append(f"no {name} channel in the environment: its integrations are left out")
    route: dict[str, Any] = {
        "receiver": "team-slack",
        "group_by": list(policy.group_by),
        "group_wait": format_duration_ms(policy.group_wait_ms),
        "group_interval": format_duration_ms(policy.group_interval_ms),
        "repeat_interval": format_duration_ms(policy.repeat_interval_ms),
        "routes": [
            *(dict(r) for r in first_routes),
            *(
                [{"receiver": "responder", "continue": True, **(responder_timing or {})}]
                if responder
                else []
            ),
            _route("oncall-critical", "critical", policy.critical_repeat_interval_ms),
            _route("team-warning", "warning", policy.warning_repeat_interval_ms),
        ],
    }
    config = {
        "global": global_,
        "route": route,
        "receivers": [
            _receiver("team-slack", slack=slack),
            _receiver("oncall-critical", pagerduty=pagerduty, slack=slack),
            _receiver("team-warning", slack=slack, email=email),
            *(dict(r) for r in extra_receivers),
            *([_responder(responder, responder_url, keeper)] if responder else []),
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "job"],
            },
            {
                "source_matchers": ['severity="critical"', 'slo=~".+"'],
                "target_matchers": ['severity="warning"', 'slo=~".+"'],
                "equal": ["slo", "job"],
            },
        ],
    }
    return AlertmanagerFile(config, tuple(keeper.files), tuple(notes))
