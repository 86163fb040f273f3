"""The responder in the exports: Alertmanager's webhook receiver (amtool), a systemd service,
a Kubernetes Deployment and Service (kubernetes-validate)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from sreworkbook.alerts.alertmanager import alertmanager_config
from sreworkbook.config import load_environment
from sreworkbook.schedule import load_schedule
from sreworkbook.schedule.export import ExportOptions, export
from sreworkbook.schedule.export.common import ResponderService
from support.ci import ROOT, need_binary

KUBERNETES_VERSION = "1.30.0"
CANARY = "CANARY-responder-token-5d1e"


def environment(tmp_path: Path) -> Path:
    path = tmp_path / "prod-respond.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": str(ROOT / "parameters" / "example-production.yaml"),
                "name": "prod-respond",
                "responder": {
                    "token": "${SREWORKBOOK_RESPONDER_TOKEN}",
                    "url": "http://sreworkbook-responder:9097/webhook",
                    "runbooks": {"HighErrorRate": {"notebook": "high_error_rate"}},
                },
            }
        )
    )
    return path


def test_the_alertmanager_file_routes_every_alert_to_the_responder_too(tmp_path: Path) -> None:
    env = load_environment(str(environment(tmp_path)), root=ROOT)
    made = alertmanager_config(
        env.notifications, secrets_dir="/run/secrets/am", responder=env.responder
    )
    path = tmp_path / "alertmanager.yml"
    path.write_text(made.to_yaml())
    done = subprocess.run([need_binary("amtool"), "check-config", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(path.read_text())
    first = config["route"]["routes"][0]
    assert first == {"receiver": "responder", "continue": True}  # then the severity routes
    receiver = next(r for r in config["receivers"] if r["name"] == "responder")
    hook = receiver["webhook_configs"][0]
    assert hook["url"] == "http://sreworkbook-responder:9097/webhook"
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/am/SREWORKBOOK_RESPONDER_TOKEN",
    }
    assert any(f.reference == "SREWORKBOOK_RESPONDER_TOKEN" for f in made.secret_files)
    assert "${" not in path.read_text()


def options(tmp_path: Path, *, command: str = "/opt/sreworkbook/.venv/bin/sreworkbook",
            workdir: str = "/opt/sreworkbook") -> ExportOptions:  # fmt: skip
    return ExportOptions(
        workdir=workdir,
        command=command,
        outputs=str(tmp_path / "o"),
        responder=ResponderService("prod-respond", 9097, ("SREWORKBOOK_RESPONDER_TOKEN",)),
    )


def test_kubernetes_gets_a_deployment_and_a_service_that_pass_kubernetes_validate(
    tmp_path: Path,
) -> None:
    files = export(load_schedule(ROOT / "parameters" / "schedule.yaml"), "k8s", tmp_path,
                   options(tmp_path))  # fmt: skip
    deployment = tmp_path / "deployment-responder.yaml"
    service = tmp_path / "service-responder.yaml"
    assert {deployment, service} <= set(files)
    for path in (deployment, service):
        kubernetes_validate.validate(yaml.safe_load(path.read_text()), KUBERNETES_VERSION,
                                     strict=True)  # fmt: skip
    spec = yaml.safe_load(deployment.read_text())["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"][-8:] == [
        "respond", "serve", "--env", "prod-respond", "--listen", "0.0.0.0:9097",
        "--journal-dir", "$(SREWORKBOOK_OUTPUTS)/.responder",
    ]  # fmt: skip
    assert {"name": "SREWORKBOOK_RESPONDER_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "sreworkbook-secrets", "key": "SREWORKBOOK_RESPONDER_TOKEN"}}} in container["env"]  # fmt: skip
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    svc = yaml.safe_load(service.read_text())
    assert svc["metadata"]["name"] == "sreworkbook-responder"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 9097, "targetPort": "http"}]
    assert svc["spec"]["selector"] == spec["selector"]["matchLabels"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_gets_a_long_running_responder_service(tmp_path: Path) -> None:
    command = str(Path(sys.executable).parent / "sreworkbook")
    files = export(load_schedule(ROOT / "parameters" / "schedule.yaml"), "systemd", tmp_path,
                   options(tmp_path, command=command, workdir=str(ROOT)))  # fmt: skip
    unit = tmp_path / "sreworkbook-responder.service"
    assert unit in files
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = unit.read_text()
    assert "Type=simple" in text and "Restart=always" in text
    assert (
        f"respond serve --env prod-respond --listen 127.0.0.1:9097 --journal-dir {tmp_path}/o/.responder"
        in text
    )
    assert "WantedBy=multi-user.target" in text


def test_the_command_line_exports_the_responder_or_says_why_not(tmp_path: Path) -> None:
    env_file = environment(tmp_path)
    base = [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), "schedule", "export",
            "--format", "k8s", "--image", "localhost/sreworkbook:test"]  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if k != "SREWORKBOOK_RESPONDER_TOKEN"}
    done = subprocess.run([*base, "--out", str(tmp_path / "k8s"), "--responder-env",
                           str(env_file)], capture_output=True, text=True, timeout=120, env=clean)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "k8s" / "deployment-responder.yaml").is_file()
    refused = subprocess.run(
        [*base, "--out", str(tmp_path / "no"), "--responder-env", "example-production"],
        capture_output=True, text=True, timeout=120, env=clean,
    )  # fmt: skip
    assert refused.returncode == 64
    assert "example-production.yaml: --responder-env: has no responder: section" in refused.stderr
