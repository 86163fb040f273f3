"""SLO burn-rate rules: the Workbook's table, accepted by promtool, and the low-traffic warning."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sreworkbook.alerts.slo import (
    WORKBOOK_WINDOWS,
    burn_rate_rules,
    burn_warnings,
    single_failure_burn,
    slo_spec,
)
from sreworkbook.config import SLOConfig
from sreworkbook.exceptions import ParameterError
from support.ci import need_binary


def _rules(objective: float = 0.999, kind: str = "availability") -> tuple[list, list]:  # type: ignore[type-arg]
    slo = SLOConfig(name="availability", kind=kind, objective=objective, threshold_s=2.0)  # type: ignore[arg-type]
    return burn_rate_rules(slo_spec(slo, job="tradeai-backend"))


def test_the_workbook_table_for_99_9() -> None:
    assert [(w.long_ms, w.short_ms, w.factor) for w in WORKBOOK_WINDOWS] == [
        (3_600_000, 300_000, 14.4),
        (21_600_000, 1_800_000, 6.0),
        (259_200_000, 21_600_000, 1.0),
    ]
    recording, alerts = _rules()
    page, ticket = alerts
    assert page.labels["severity"] == "critical" and ticket.labels["severity"] == "warning"
    assert "[1h]" in page.expr and "[5m]" in page.expr and "> 0.0144" in page.expr
    assert "[6h]" in page.expr and "[30m]" in page.expr and "> 0.006" in page.expr
    assert "[3d]" in ticket.expr and "[6h]" in ticket.expr and "> 0.001" in ticket.expr
    assert page.comparison is None  # backtested whole
    assert {r.record for r in recording} == {
        f"slo:availability_errors:ratio_rate{w}" for w in ("5m", "30m", "1h", "6h", "3d")
    }


@pytest.mark.parametrize("kind", ["availability", "latency"])
def test_generated_rules_pass_promtool(kind: str, tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    recording, alerts = _rules(0.95 if kind == "latency" else 0.999, kind)
    rules = [{"record": r.record, "expr": r.expr, "labels": dict(r.labels)} for r in recording]
    rules += [a.to_prometheus() for a in alerts]
    path = tmp_path / "slo.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "slo", "rules": rules}]}), encoding="utf-8")
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_failed_request_burn() -> None:
    # 1 req/s over 5 m is 300 requests: one failure is a 1/300 error ratio, 3.33x a 0.1 % budget.
    assert single_failure_burn(1.0, 300_000, 0.999) == pytest.approx(1000 / 300)
    spec = slo_spec(SLOConfig(name="a", kind="availability", objective=0.999), job="j")
    assert burn_warnings(spec, 0.0) == ["a: no traffic, so the burn-rate alerts can never fire"]
    noisy = burn_warnings(spec, 0.1)  # 30 requests in 5 m: one failure burns 33x
    assert any("5m" in w and "single errors" in w for w in noisy)
    assert burn_warnings(spec, 100.0) == []


def test_latency_slo_needs_a_threshold() -> None:
    with pytest.raises(ParameterError, match="threshold_s"):
        slo_spec(SLOConfig(name="l", kind="latency", objective=0.95), job="j")
