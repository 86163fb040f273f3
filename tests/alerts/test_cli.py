"""``sreworkbook alerts backtest``: JSON output, and bad input as ParameterError (exit 64)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sreworkbook.alerts.cli import parse_time, register
from sreworkbook.exceptions import MissingFileError, ParameterError

from .conftest import PrometheusTSDB

ROOT = Path(__file__).resolve().parents[2]
ORIGIN_S = 1_700_000_000
RULES = """groups:
- name: g
  interval: 15s
  rules:
  - alert: High
    expr: m > 5
    for: 30s
    keep_firing_for: 15s
    labels: {severity: critical}
"""


def _run(argv: list[str], tmp_path: Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.handler(args, ROOT, tmp_path / "outputs")
    return code, out.getvalue()


def test_parse_time_forms() -> None:
    assert parse_time("2026-11-20T00:00:00Z") == 1_795_132_800_000
    assert parse_time("2026-11-20") == 1_795_132_800_000
    assert parse_time("2026-11-20T01:00:00+01:00") == 1_795_132_800_000
    assert parse_time("1795132800.5") == 1_795_132_800_500
    assert parse_time("now", now=lambda: 100.0) == 100_000
    assert parse_time("now-1h", now=lambda: 7200.0) == 3_600_000
    assert parse_time("now-1.5h", now=lambda: 7200.0) == 1_800_000  # as every CLI reads it
    with pytest.raises(ParameterError, match="--start"):
        parse_time("yesterday", key="--start")
    with pytest.raises(ParameterError):
        parse_time("now-5x")


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    return path


def test_backtest_json_against_a_real_prometheus(
    tmp_path: Path, rules_file: Path, prometheus_from_openmetrics: Callable[[Path], PrometheusTSDB]
) -> None:
    values = [1, 9, 9, 9, 9, 1, 1, 9, 9, 9, 9, 9]
    lines = [f'm{{s="a"}} {v} {ORIGIN_S + 15 * k}' for k, v in enumerate(values)]
    data = tmp_path / "m.om.txt"
    data.write_text("\n".join([*lines, "# EOF"]) + "\n", encoding="utf-8")
    server = prometheus_from_openmetrics(data)
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text(
        f"- {{name: blip, start: {ORIGIN_S + 15}, end: {ORIGIN_S + 60}, severity: critical}}\n",
        encoding="utf-8",
    )
    argv = ["alerts", "backtest", "--rules", str(rules_file), "--prometheus", server.url]
    argv += ["--start", str(ORIGIN_S), "--end", str(ORIGIN_S + 165), "--json"]
    code, out = _run(argv, tmp_path)
    assert code == 0
    # pending at 15 s, firing 45..60 s, kept 75 s (15 s keep), then pending again at 105 s,
    # firing from 135 s to the end
    assert json.loads(out) == [
        {
            "alert": "High",
            "labels": {"s": "a", "severity": "critical"},
            "episodes": [
                ["2023-11-14T22:14:05Z", "2023-11-14T22:14:35Z"],
                ["2023-11-14T22:15:35Z", "2023-11-14T22:16:05Z"],
            ],
        }
    ]
    code, out = _run([*argv, "--incidents", str(incidents)], tmp_path)
    assert json.loads(out)[0]["incidents"] == ["blip"]
    code, text = _run(
        [a for a in argv if a != "--json"] + ["--incidents", str(incidents)], tmp_path
    )
    assert "High: 1 instance(s), 2 episode(s)" in text and "recall" in text


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (["--interval", "5x"], ParameterError, "--interval: not a duration"),
        (["--interval", "0s"], ParameterError, "--interval: must be greater than zero"),
        (["--start", "soon"], ParameterError, "--start: not a time"),
        (["--end", "2020-01-01"], ParameterError, "--end: must not be before --start"),
        (["--prometheus", "localhost:9090"], ParameterError, r"must be an http\(s\) URL"),
        (["--incidents", "/nowhere.json"], MissingFileError, "incidents file not found"),
    ],
)
def test_bad_input_raises_parameter_error(
    tmp_path: Path, rules_file: Path, extra: list[str], error: type[Exception], message: str
) -> None:
    argv = ["alerts", "backtest", "--rules", str(rules_file), "--prometheus", "http://127.0.0.1:1"]
    argv += ["--start", "2026-01-01", "--end", "2026-01-02"]
    # later options win in argparse
    with pytest.raises(error, match=message):
        _run([*argv, *extra], tmp_path)


def test_a_bad_rules_file_names_file_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(RULES.replace("30s", "5x"), encoding="utf-8")
    argv = ["alerts", "backtest", "--rules", str(path), "--prometheus", "http://127.0.0.1:1"]
    argv += ["--start", "2026-01-01", "--end", "2026-01-02"]
    with pytest.raises(ParameterError, match=r"bad.yml: groups\[g\].rules\[High\].for: not a"):
        _run(argv, tmp_path)
