"""`sreworkbook alerts export` on the sandbox: tuned rules, promtool tests from real episodes and
an Alertmanager configuration, all accepted by the real promtool and amtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sreworkbook.alerts import load_rules
from support.ci import need_binary
from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def tool(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    binary = need_binary("amtool" if argv[0] == "check-config" else "promtool")
    return subprocess.run(
        [binary, *argv], cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def exported(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A runbook report first (so runbook_url has a target), then the export over 12 days."""
    sandbox.require("prometheus", "api")
    outputs = tmp_path_factory.mktemp("outputs")
    ran = run_cli(
        "--outputs", str(outputs), "run", "high_error_rate", "--env", str(sandbox.env_file)
    )
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr
    folder = outputs / "export"
    done = run_cli(
        "--outputs", str(outputs), "alerts", "export", "--env", str(sandbox.env_file),
        "--out", str(folder), "--window", "12d", "--runbook-base-url", "https://reports.example/",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, outputs, done.stdout


def test_promtool_and_amtool_accept_the_files(exported: tuple[Path, Path, str]) -> None:
    folder, _, printed = exported
    for argv in (("check", "rules", "rules.yml"), ("test", "rules", "rules.test.yml")):
        done = tool(folder, *argv)
        assert done.returncode == 0, done.stdout + done.stderr
    done = tool(folder, "check-config", "alertmanager.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    for check in ("promtool check rules", "promtool test rules", "amtool check-config"):
        assert f"PASSED  {check}" in printed


def test_the_rules_are_tuned_labelled_annotated_and_linked(
    exported: tuple[Path, Path, str],
) -> None:
    folder, outputs, printed = exported
    document = yaml.safe_load((folder / "rules.yml").read_text())
    assert set(document) == {"groups"}  # the workbook's own keys are gone
    assert all("interval" in g for g in document["groups"])
    alerts = {r["alert"]: r for g in document["groups"] for r in g["rules"] if "alert" in r}
    assert len(alerts) == 8
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        tuned = re.search(rf"^tuned {name}:", printed, re.MULTILINE) is not None
        assert ("tuning" in rule["annotations"]) == tuned, name
    link = alerts["HighErrorRate"]["annotations"]["runbook_url"]
    assert re.fullmatch(r"https://reports\.example/runs/[\d-]+/[^/]+/report\.html", link), link
    assert (outputs / link.removeprefix("https://reports.example/")).is_file()
    assert alerts["SLOAvailabilityBurnRatePage"]["annotations"]["runbook_url"] == link
    assert alerts["HighMemoryUsage"]["annotations"]["runbook_url"].endswith(
        "notebooks/runbooks/high_memory_usage.ipynb"
    )  # not run yet: the notebook itself
    # The file reads back with the workbook's own strict parser.
    assert len(load_rules(folder / "rules.yml").alerts) == 8


def test_the_tests_come_from_real_episodes_and_catch_a_changed_rule(
    exported: tuple[Path, Path, str], tmp_path: Path
) -> None:
    folder, _, _ = exported
    tests = yaml.safe_load((folder / "rules.test.yml").read_text())
    names = {t["alert_rule_test"][0]["alertname"] for t in tests["tests"]}
    assert {
        "HighErrorRate",
        "SlowAPIResponse",
        "HighMemoryUsage",
        "DatabaseConnectionFailures",
    } <= names
    for group in tests["tests"]:
        expectations = [t["exp_alerts"] for t in group["alert_rule_test"]]
        assert any(expectations) and not all(expectations)
        assert group["input_series"] and "during" in group["name"]
    # Make HighMemoryUsage wait much longer: the tests built from its episode must now fail.
    rules = yaml.safe_load((folder / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "HighMemoryUsage":
                rule["for"] = "1h"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "rules.test.yml").write_text((folder / "rules.test.yml").read_text())
    done = tool(tmp_path, "test", "rules", "rules.test.yml")
    assert done.returncode != 0 and "HighMemoryUsage" in done.stdout + done.stderr


def test_alertmanager_routes_by_severity_with_secrets_kept_out(
    exported: tuple[Path, Path, str], sandbox: Any
) -> None:
    folder, _, _ = exported
    text = (folder / "alertmanager.yml").read_text()
    config = yaml.safe_load(text)
    slack = sandbox.env.notifications.slack.webhook_url
    assert slack not in text and "sandbox-routing-key" not in text
    assert config["global"]["slack_api_url_file"].startswith("/etc/alertmanager/secrets/")
    receivers = {r["name"]: set(r) - {"name"} for r in config["receivers"]}
    assert receivers["oncall-critical"] == {"pagerduty_configs", "slack_configs"}
    assert receivers["team-warning"] == {"slack_configs", "email_configs"}
    route = config["route"]
    assert route["group_by"] == ["alertname", "job"]
    assert {"group_wait", "group_interval", "repeat_interval"} <= set(route)
    assert len(config["inhibit_rules"]) == 2
    readme = (folder / "README.md").read_text()
    assert "/etc/alertmanager/secrets/" in readme


def test_a_bad_rule_file_is_bad_input(sandbox: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up == 0\n    for: 5x\n")
    done = run_cli(
        "alerts", "export", "--env", str(sandbox.env_file), "--out", str(tmp_path / "o"),
        "--rules", str(bad),
    )  # fmt: skip
    assert done.returncode == 64, done.stdout + done.stderr
    assert "groups[g].rules[X].for" in done.stderr and "5x" in done.stderr
    assert "Traceback" not in done.stderr
