"""The whole loop on the sandbox: ``sandbox fault --error-ratio 0.3`` and nothing else typed
leads to the responder's reply at the local Slack receiver linking the high-error-rate
runbook's report; ``sandbox fault`` with no options leads to the resolved reply.

The sandbox's own stack (demo API and its databases, Prometheus with the sandbox variant of
the seed's rules, receivers, responder, Alertmanager; no S3) from ``parameters/sandbox.yaml`` on free
ports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sreworkbook.config import load_environment
from sreworkbook.sandbox import down, up
from support.ci import ROOT, unavailable
from support.ledger import summaries
from support.net import free_port
from support.wait import wait_for

pytestmark = pytest.mark.integration


def sandbox(*args: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), "sandbox", *args,
         "--env", str(env_file)], capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    base = tmp_path_factory.mktemp("loop")
    data, outputs = base / "data", base / "outputs"
    api, prom, manager, hook, responder, ai, mongo, redis = (free_port() for _ in range(8))
    doc = {
        "extends": str(ROOT / "parameters" / "sandbox.yaml"),
        "name": "sandbox-loop",
        "service": {"base_url": f"http://127.0.0.1:{api}"},
        "prometheus": {"url": f"http://127.0.0.1:{prom}"},
        "alertmanager": {"url": f"http://127.0.0.1:{manager}"},
        "notifications": {
            "slack": {"webhook_url": f"http://127.0.0.1:{hook}/services/sandbox"},
            "email": None,
            "pagerduty": None,
        },
        "responder": {"listen": f"127.0.0.1:{responder}", "journal_dir": str(base / "journal")},
        # The databases the demo API's routes use (else they fail and the error rate stays up).
        "ai_service": {"url": f"http://127.0.0.1:{ai}/health"},
        "mongodb": {"uri": f"mongodb://127.0.0.1:{mongo}/"},
        "redis": {"url": f"redis://127.0.0.1:{redis}/0"},
        "backups": None,
        "logs": {"dir": str(data / "logs-app")},
        "sandbox": {"data_dir": str(data), "history_days": 1, "seed_documents": 1000},
    }  # fmt: skip
    env_file = base / "sandbox-loop.yaml"
    env_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = load_environment(str(env_file), root=ROOT)
    saved = os.environ.get("SREWORKBOOK_OUTPUTS")
    os.environ["SREWORKBOOK_OUTPUTS"] = str(outputs)
    try:
        state = up(env, root=ROOT, log=lambda line: print(f"[loop] {line}"),
                   history_cache=base / "history")  # fmt: skip
        for name in ("api", "mongodb", "redis", "prometheus", "alertmanager", "receivers",
                     "responder"):  # fmt: skip
            component = state.component(name)
            if component.status != "running":
                unavailable(f"{name}: {component.status} — {component.detail}")
        yield env_file, outputs, f"http://127.0.0.1:{hook}"
    finally:
        down(env, root=ROOT)
        if saved is None:
            os.environ.pop("SREWORKBOOK_OUTPUTS", None)
        else:
            os.environ["SREWORKBOOK_OUTPUTS"] = saved


def replies(hook: str) -> list[dict[str, Any]]:
    posts = requests.get(hook + "/received", timeout=5).json()
    return [
        p["body"] for p in posts if "HighErrorRate on sandbox-loop" in p["body"].get("text", "")
    ]


def test_a_fault_leads_to_the_runbook_report_in_slack_and_clearing_it_to_the_resolution(
    loop: tuple[Path, Path, str],
) -> None:
    env_file, outputs, hook = loop
    began = time.monotonic()
    done = sandbox("fault", "--error-ratio", "0.3", env_file=env_file)
    assert done.returncode == 0, done.stderr
    reply = wait_for("the reply with the runbook's report", lambda: replies(hook), 300)[0]
    fired = time.monotonic() - began
    [run] = [s for s in summaries(outputs / "ledger.jsonl") if s["notebook"] == "high_error_rate"]
    assert str(outputs / run["report"]) in json.dumps(reply)  # no base URL: the report's path
    assert run["status"] == "CRIT", run["headline"]  # the runbook measured the fault
    assert run["metrics"]["peak_error_rate"] > 0.05
    print(f"fault → reply with the report: {fired:.0f} s")

    done = sandbox("fault", env_file=env_file)
    assert done.returncode == 0, done.stderr
    closing = wait_for(
        "the resolved reply",
        lambda: [r for r in replies(hook) if r["text"].startswith("RESOLVED")],
        420,
    )[0]
    assert "Resolved after" in closing["text"]
    runs = summaries(outputs / "ledger.jsonl")
    assert len([s for s in runs if s["notebook"] == "high_error_rate"]) == 2
    assert list((outputs / "incidents").glob("*-HighErrorRate-*.html"))
