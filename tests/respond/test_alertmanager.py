"""The responder on the real stack: Prometheus evaluates a rule, the real Alertmanager posts
to ``sreworkbook respond serve`` (started by ``sandbox up``), which runs the real
``high_error_rate`` runbook and replies at the local Slack-compatible receiver.

A stack of its own on free ports (Prometheus, receivers, responder, Alertmanager; no demo
API). Rules are switched on and off by rewriting a rule file and sending Prometheus SIGHUP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sreworkbook.config import Environment, load_environment
from sreworkbook.sandbox import down, status, up
from support.ci import ROOT, unavailable
from support.ledger import summaries
from support.net import free_port
from support.wait import wait_for

pytestmark = pytest.mark.integration
BASE_URL = "http://reports.test/outputs"


def rule(name: str, *, firing: bool) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": "vector(1)" if firing else "vector(1) > 2",
        "labels": {"severity": "critical", "job": "e2e"},
        "annotations": {"summary": f"{name} for the responder test"},
    }


@dataclass
class Stack:
    env: Environment
    data: Path
    outputs: Path
    journal: Path
    hook: str
    responder: str
    rules: dict[str, bool]

    def switch(self, name: str, *, firing: bool) -> None:
        """Turn rule ``name`` on or off, and make Prometheus reload its rules."""
        self.rules[name] = firing
        group = {"name": "respond-e2e", "interval": "1s",
                 "rules": [rule(n, firing=f) for n, f in self.rules.items()]}  # fmt: skip
        path = self.data / "prometheus" / "rules" / "respond.yml"
        path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
        pid = self.pid("prometheus")
        os.kill(pid, signal.SIGHUP)

    def pid(self, component: str) -> int:
        found = status(self.env, root=ROOT).component(component).pid
        assert found is not None, component
        return found

    def replies(self, alertname: str) -> list[dict[str, Any]]:
        """The responder's replies about ``alertname`` (not Alertmanager's own pages)."""
        posts = requests.get(self.hook + "/received", timeout=5).json()
        return [
            p["body"]
            for p in posts
            if p["path"] == "/services/sandbox"
            and f"{alertname} on e2e-respond" in p["body"].get("text", "")
        ]

    def runs(self, alertname: str) -> list[dict[str, Any]]:
        return [
            s
            for s in summaries(self.outputs / "ledger.jsonl")
            if alertname in json.dumps(s["parameters"].get("labels", ""))
        ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for binary in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(binary) is None:
            unavailable(f"{binary} not on PATH")
    base = tmp_path_factory.mktemp("respond")
    data, outputs, journal = base / "data", base / "outputs", base / "journal"
    (data / "prometheus" / "rules").mkdir(parents=True)
    prom, manager, hook, responder = (free_port() for _ in range(4))
    doc = {
        "name": "e2e-respond",
        "prometheus": {"url": f"http://127.0.0.1:{prom}"},
        "alertmanager": {"url": f"http://127.0.0.1:{manager}"},
        "notifications": {
            "slack": {
                "webhook_url": f"http://127.0.0.1:{hook}/services/sandbox",
                "channel": "#tradeai-alerts",
            }
        },
        "responder": {
            "listen": f"127.0.0.1:{responder}",
            "token": "${E2E_RESPONDER_TOKEN}",
            "report_base_url": BASE_URL,
            "runbooks": {
                name: {"notebook": "high_error_rate"}
                for name in ("E2EErrorSpike", "E2EKilled", "E2EHostile")
            },
            "journal_dir": str(journal),
            "dedup_window_s": 60,
            "lead_s": 600,
        },
        "sandbox": {"data_dir": str(data)},
    }
    env_file = base / "e2e-respond.yaml"
    env_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = load_environment(str(env_file), root=ROOT)
    saved = os.environ.get("SREWORKBOOK_OUTPUTS")
    os.environ["SREWORKBOOK_OUTPUTS"] = str(outputs)  # the responder child inherits it
    try:
        state = up(env, root=ROOT, log=lambda line: print(f"[respond] {line}"))
        for name in ("prometheus", "alertmanager", "receivers", "responder"):
            component = state.component(name)
            if component.status != "running":
                unavailable(f"{name}: {component.status} — {component.detail}")
        yield Stack(
            env, data, outputs, journal / "e2e-respond.jsonl",
            f"http://127.0.0.1:{hook}", f"http://127.0.0.1:{responder}", {},
        )  # fmt: skip
    finally:
        down(env, root=ROOT)
        if saved is None:
            os.environ.pop("SREWORKBOOK_OUTPUTS", None)
        else:
            os.environ["SREWORKBOOK_OUTPUTS"] = saved


def test_alertmanager_is_routed_to_the_responder_with_the_token(stack: Stack) -> None:
    config = yaml.safe_load((stack.data / "alertmanager" / "alertmanager.yml").read_text())
    hook = next(r for r in config["receivers"] if r["name"] == "responder")["webhook_configs"][0]
    assert hook["url"] == stack.responder + "/webhook" and hook["send_resolved"] is True
    token = (stack.data / "responder" / "token").read_text().strip()
    assert hook["http_config"]["authorization"]["credentials"] == token
    assert oct((stack.data / "responder" / "token").stat().st_mode & 0o777) == "0o600"
    refused = requests.post(stack.responder + "/webhook", json={}, timeout=5)
    assert refused.status_code == 401


def test_a_firing_group_gets_one_run_and_a_reply_linking_its_report(stack: Stack) -> None:
    stack.switch("E2EErrorSpike", firing=True)
    reply = wait_for("the responder's reply", lambda: stack.replies("E2EErrorSpike"))[0]
    runs = stack.runs("E2EErrorSpike")
    assert len(runs) == 1
    run = runs[0]
    assert run["notebook"] == "high_error_rate" and run["env"] == "e2e-respond"
    link = f"{BASE_URL}/{run['report']}"
    assert link in json.dumps(reply)
    assert reply["text"].startswith(f"{run['status']}: E2EErrorSpike on e2e-respond — ")
    assert run["headline"] in reply["text"]
    assert (stack.outputs / run["report"]).is_file()
    labels = json.loads(run["parameters"]["labels"])
    assert labels["labels"]["alertname"] == "E2EErrorSpike"
    assert run["parameters"]["start"] < labels["startsAt"]  # the window opens before startsAt

    # Alertmanager repeats the group every 20 s (repeat_interval): no second run, no reply.
    time.sleep(45)
    assert len(stack.runs("E2EErrorSpike")) == 1
    assert len(stack.replies("E2EErrorSpike")) == 1
    log = (stack.data / "logs" / "responder.out").read_text()
    assert "repeat  E2EErrorSpike" in log  # the repeats did arrive

    stack.switch("E2EErrorSpike", firing=False)

    def resolved() -> list[dict[str, Any]]:
        return [r for r in stack.replies("E2EErrorSpike") if r["text"].startswith("RESOLVED")]

    closing = wait_for("the resolved reply", resolved)[0]
    runs = stack.runs("E2EErrorSpike")
    assert len(runs) == 2  # the second run covers the whole incident
    assert f"{BASE_URL}/{runs[1]['report']}" in json.dumps(closing)
    assert "Resolved after" in closing["text"]
    assert runs[1]["parameters"]["start"] == runs[0]["parameters"]["start"]
    assert runs[1]["parameters"]["end"] > runs[0]["parameters"]["end"]

    def page() -> str:
        found = list((stack.outputs / "incidents").glob("*-E2EErrorSpike-*.html"))
        text = found[0].read_text() if found else ""
        return text if text.count("report</a>") == 2 and "resolved after" in text else ""

    text = wait_for("the incident page with both reports", page, timeout_s=20)
    for run in runs:
        assert f'href="../{run["report"]}"' in text  # relative: works wherever served
    kinds = re.findall(r"<td>(alert|run|reply|resolved|flap)</td>", text)
    assert kinds == ["alert", "run", "reply", "resolved", "run", "reply"]
    index = (stack.outputs / "index.html").read_text()
    assert "<h2>Incidents</h2>" in index and "E2EErrorSpike" in index


def test_work_in_the_journal_of_a_killed_responder_runs_once_after_restart(
    stack: Stack,
) -> None:
    stack.switch("E2EKilled", firing=True)
    wait_for("the group in the journal", lambda: "E2EKilled" in stack.journal.read_text())
    os.killpg(stack.pid("responder"), signal.SIGKILL)  # mid-run: its kernel goes too
    time.sleep(1)
    assert stack.replies("E2EKilled") == [] and stack.runs("E2EKilled") == []
    state = up(stack.env, root=ROOT, log=lambda line: print(f"[respond] {line}"))
    assert state.component("responder").status == "running"
    wait_for("the reply after the restart", lambda: stack.replies("E2EKilled"))
    time.sleep(25)  # Alertmanager's repeat reaches the restarted responder: still one run
    assert len(stack.runs("E2EKilled")) == 1
    assert len(stack.replies("E2EKilled")) == 1


def test_no_secret_in_replies_reports_or_journal(stack: Stack) -> None:
    token = (stack.data / "responder" / "token").read_text().strip()
    wait_for("some replies", lambda: stack.replies("E2EErrorSpike"))
    posts = requests.get(stack.hook + "/received", timeout=5).text
    assert token not in posts
    assert token not in stack.journal.read_text()
    for path in stack.outputs.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path


HOSTILE = {
    "job": 'x"; __import__("pathlib").Path("MARKER").touch() #',
    "instance": '"""\n__import__("pathlib").Path("MARKER").touch()\n"""',
    "team": "{{ .CommonLabels }} ${HOME} $(touch MARKER) `touch MARKER`",
    "yaml": "!!python/object/apply:os.system ['touch MARKER']\n- a: [b",
    "long": "z" * 9_000,
}


def test_hostile_label_values_reach_the_runbook_as_inert_data(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    labels = {k: v.replace("MARKER", str(marker)) for k, v in HOSTILE.items()}
    token = (stack.data / "responder" / "token").read_text().strip()
    body = {
        "version": "4", "groupKey": "{}:{alertname=\"E2EHostile\"}", "status": "firing",
        "receiver": "responder", "groupLabels": {"alertname": "E2EHostile"},
        "alerts": [{
            "status": "firing", "labels": {"alertname": "E2EHostile", **labels},
            "annotations": {"summary": labels["team"]},
            "startsAt": "2026-12-07T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "0123", "generatorURL": "http://prometheus/graph",
        }],
    }  # fmt: skip
    answer = requests.post(
        stack.responder + "/webhook", json=body, headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    reply = wait_for("the reply", lambda: stack.replies("E2EHostile"))[0]
    run = stack.runs("E2EHostile")[0]
    assert run["status"] != "ERROR", run["headline"]  # the notebook's code was not broken
    passed = json.loads(run["parameters"]["labels"])["labels"]
    assert passed == {"alertname": "E2EHostile", **labels}  # verbatim, as data
    assert not marker.exists()  # nothing was executed
    assert "E2EHostile" in reply["text"]
