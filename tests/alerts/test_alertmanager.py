"""The Alertmanager configuration: routes by severity, inhibition, secrets as files; amtool
accepts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sreworkbook.alerts.alertmanager import RoutingPolicy, alertmanager_config
from sreworkbook.alerts.routing import routing_from_config
from sreworkbook.config import NotificationsConfig, load_environment
from sreworkbook.exceptions import SecretError
from support.ci import need_binary

ROOT = Path(__file__).resolve().parents[2]
CANARIES = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/CANARY-slack",
    "SMTP_PASSWORD": "CANARY-smtp",
    "PAGERDUTY_ROUTING_KEY": "CANARY-pd",
}


def amtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need_binary("amtool"), "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_routing_keeps_secrets_in_files_and_passes_amtool(tmp_path: Path) -> None:
    env = load_environment("example-production", root=ROOT)
    made = alertmanager_config(env.notifications, secrets_dir="/run/secrets/am")
    path = tmp_path / "alertmanager.yml"
    path.write_text(made.to_yaml())
    done = amtool_check(path)
    assert done.returncode == 0, done.stdout + done.stderr
    text = path.read_text()
    assert "${" not in text and "CANARY" not in text
    assert {(f.path, f.reference) for f in made.secret_files} == {
        ("/run/secrets/am/SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL"),
        ("/run/secrets/am/SMTP_PASSWORD", "SMTP_PASSWORD"),
        ("/run/secrets/am/PAGERDUTY_ROUTING_KEY", "PAGERDUTY_ROUTING_KEY"),
    }
    config = yaml.safe_load(text)
    assert config["global"]["slack_api_url_file"] == "/run/secrets/am/SLACK_WEBHOOK_URL"
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers["oncall-critical"]) == {"name", "pagerduty_configs", "slack_configs"}
    assert set(receivers["team-warning"]) == {"name", "slack_configs", "email_configs"}
    pd = receivers["oncall-critical"]["pagerduty_configs"][0]
    assert pd["routing_key_file"].endswith("PAGERDUTY_ROUTING_KEY") and "routing_key" not in pd
    email = receivers["team-warning"]["email_configs"][0]
    assert email["auth_password_file"].endswith("SMTP_PASSWORD") and email["require_tls"] is True
    assert config["route"]["group_by"] == ["alertname", "job"]
    assert {r["receiver"]: r["matchers"] for r in config["route"]["routes"]} == {
        "oncall-critical": ['severity="critical"'],
        "team-warning": ['severity="warning"'],
    }
    routing = routing_from_config(config)
    assert [r.receiver for r in routing.route.match({"severity": "critical"})] == [
        "oncall-critical"
    ]
    assert routing.muted(
        {"alertname": "A", "job": "j", "severity": "warning"},
        [{"alertname": "A", "job": "j", "severity": "critical"}],
    )
    assert routing.muted(
        {"alertname": "SLOTicket", "slo": "availability", "job": "j", "severity": "warning"},
        [{"alertname": "SLOPage", "slo": "availability", "job": "j", "severity": "critical"}],
    )
    assert not routing.muted(
        {"alertname": "SlowAPIResponse", "job": "j", "severity": "warning"},
        [{"alertname": "HighErrorRate", "job": "j", "severity": "critical"}],
    )


def test_a_literal_secret_still_goes_to_a_file() -> None:
    notifications = NotificationsConfig.model_validate(
        {"pagerduty": {"routing_key": "literal-key-123"}}
    )
    made = alertmanager_config(notifications)
    assert "literal-key-123" not in made.to_yaml()
    assert made.secret_files[0].path.endswith("/pagerduty_routing_key")


def test_inline_mode_resolves_references_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    env = load_environment("example-production", root=ROOT)
    made = alertmanager_config(
        env.notifications,
        secrets="inline",
        environ=CANARIES,
        policy=RoutingPolicy(group_wait_ms=5_000),
    )
    text = made.to_yaml()
    assert "CANARY-slack" in text and "CANARY-pd" in text and "group_wait: 5s" in text
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    assert amtool_check(path).returncode == 0
    with pytest.raises(SecretError):
        alertmanager_config(env.notifications, secrets="inline", environ={})


def test_without_channels_the_receivers_are_empty_but_valid(tmp_path: Path) -> None:
    made = alertmanager_config(NotificationsConfig())
    assert len(made.notes) == 3
    path = tmp_path / "alertmanager.yml"
    path.write_text(made.to_yaml())
    assert amtool_check(path).returncode == 0
