"""The health inspection notebook end to end through `sreworkbook run` on the real sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sreworkbook import sandbox as sandbox_stack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.notebook, pytest.mark.integration]


def finding(summary: dict[str, Any], title: str) -> dict[str, Any] | None:
    return next((f for f in summary["findings"] if f["title"] == title), None)


def test_healthy_sandbox_is_ok(cli: Any, last_run: Any, sandbox: Any, tmp_path: Path) -> None:
    sandbox_stack.set_fault(sandbox.env)
    done = cli(
        "--outputs", str(tmp_path), "run", "health_inspection", "--env", str(sandbox.env_file)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary, run_dir = last_run(tmp_path)
    assert summary["status"] in ("OK", "WARN"), summary["findings"]
    assert summary["metrics"]["checks_crit"] == 0
    assert summary["metrics"]["checks_total"] >= 12
    assert summary["metrics"]["mongo_ping_ms"] > 0
    assert summary["metrics"]["redis_ping_ms"] > 0
    assert 0 < summary["metrics"]["memory_pct"] < 90
    report = (run_dir / "report.html").read_text()
    assert "Health inspection" in report and "Plotly.newPlot" in report
    assert "checks.inspect" not in report  # no code in the report


def test_component_down_turns_its_row_crit_and_exit_1(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    sandbox_stack.set_fault(sandbox.env, down=["mongodb"])
    try:
        done = cli(
            "--outputs", str(tmp_path), "run", "health_inspection", "--env", str(sandbox.env_file)
        )
    finally:
        sandbox_stack.set_fault(sandbox.env)
    assert done.returncode == 1, done.stdout + done.stderr
    summary, _ = last_run(tmp_path)
    assert summary["status"] == "CRIT"
    crit = [f["title"] for f in summary["findings"] if f["severity"] == "CRIT"]
    assert any("mongodb" in title for title in crit), crit
    # The next healthy run says the problem was resolved.
    done = cli(
        "--outputs", str(tmp_path), "run", "health_inspection", "--env", str(sandbox.env_file)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, run_dir = last_run(tmp_path)
    report = (run_dir / "report.html").read_text()
    assert "Resolved" in report and "mongodb" in report


def test_memory_pressure_is_crit(cli: Any, last_run: Any, sandbox: Any, tmp_path: Path) -> None:
    sandbox_stack.set_fault(sandbox.env, memory_pct=95.0)
    try:
        # Prometheus scrapes every 15 s: the check reads the gauge straight from Prometheus.
        import time

        time.sleep(16)
        done = cli(
            "--outputs", str(tmp_path), "run", "health_inspection", "--env", str(sandbox.env_file)
        )
    finally:
        sandbox_stack.set_fault(sandbox.env)
    summary, _ = last_run(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert summary["metrics"]["memory_pct"] == pytest.approx(95.0)


def test_unreachable_environment_is_crit_not_a_traceback(
    cli: Any, last_run: Any, tmp_path: Path
) -> None:
    env_file = tmp_path / "gone.yaml"
    env_file.write_text(
        "name: gone\nservice:\n  base_url: http://127.0.0.1:9\n"
        "redis:\n  url: redis://127.0.0.1:9/0\nmongodb:\n  uri: mongodb://127.0.0.1:9/\n"
        "check_timeout_s: 2\n"
    )
    done = cli(
        "--outputs", str(tmp_path / "out"), "run", "health_inspection", "--env", str(env_file)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary, run_dir = last_run(tmp_path / "out")
    assert summary["status"] == "CRIT"
    assert "Traceback" not in (run_dir / "report.html").read_text()


def test_canary_secrets_never_reach_any_output(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    canaries = {
        "TRADEAI_MONGO_URI": "mongodb://canary-user:CANARY-mongo-7c1d@"
        + sandbox.env.mongodb.uri.split("//", 1)[1],
        "TRADEAI_REDIS_URL": sandbox.env.redis.url.replace(
            "redis://", "redis://:CANARY-redis-58ab@"
        ),
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/CANARY-slack-9f3e",
        "TRADEAI_METRICS_TOKEN": "CANARY-token-4410",
    }
    env_file = tmp_path / "canary.yaml"
    env_file.write_text(
        f"extends: {sandbox.env_file}\nname: canary\n"
        "mongodb:\n  uri: ${TRADEAI_MONGO_URI}\n"
        "redis:\n  url: ${TRADEAI_REDIS_URL}\n"
        "service:\n  headers:\n    Authorization: Bearer ${TRADEAI_METRICS_TOKEN}\n"
        "notifications:\n  slack:\n    webhook_url: ${SLACK_WEBHOOK_URL}\n"
    )
    outputs = tmp_path / "out"
    done = cli(
        "--outputs", str(outputs), "run", "health_inspection", "--env", str(env_file), env=canaries
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    secrets = ["CANARY-mongo-7c1d", "CANARY-redis-58ab", "CANARY-slack-9f3e", "CANARY-token-4410"]
    files = [p for p in outputs.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    hits = [(p.name, s) for p in files for s in secrets if s in p.read_text(errors="ignore")]
    assert hits == []
    assert not any(s in done.stdout + done.stderr for s in secrets)
