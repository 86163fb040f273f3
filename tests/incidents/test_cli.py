"""``sreworkbook logs trace|errors`` through a parser built with ``register``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.incidents.cli import register


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sreworkbook")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args, Path("."), Path("outputs"))
    return code


def test_trace_text_and_json(
    winston: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = winston
    cid = truth["known"]["midnight"]
    assert run(["logs", "trace", cid, "--dir", str(folder)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 5 and lines[0].startswith("2024-03-10T23:59:59.400Z")
    assert "4 lines, 2 services, 2300 ms" in lines[-1]
    assert "scanned" in out.err
    assert run(["logs", "trace", cid, "--dir", str(folder), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    expected = [e for e in truth["events"] if e["cid"] == cid]
    assert (
        [r["ts"] for r in records]
        == [r["timestamp"] for r in records]
        == [e["ts"] for e in expected]
    )
    assert all(r["correlationId"] == cid for r in records)


def test_trace_of_an_unknown_id_exits_1(
    winston: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["logs", "trace", "nope", "--dir", str(winston[0]), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == []


def test_errors_json_largest_first(
    winston: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, truth = winston
    argv = ["logs", "errors", "--dir", str(folder), "--start", truth["incident"]["start"]]
    assert run([*argv, "--end", truth["incident"]["end"], "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert [set(g) for g in groups] == [
        {"group", "count", "first_seen", "last_seen", "example", "frame"}
    ] * len(groups)
    assert [g["count"] for g in groups] == sorted((g["count"] for g in groups), reverse=True)
    assert groups[0]["first_seen"].endswith("Z")
    assert run([*argv, "--end", truth["incident"]["end"], "--top", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_bad_input_names_the_parameter(
    winston: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    with pytest.raises(ParameterError) as err:
        run(["logs", "errors", "--dir", str(winston[0]), "--start", "soon", "--end", "now"])
    assert err.value.key == "--start"
    with pytest.raises(MissingFileError) as missing:
        run(
            ["logs", "errors", "--dir", str(tmp_path / "none"), "--start", "now-1h", "--end", "now"]
        )
    assert "--dir" in str(missing.value)
    with pytest.raises(ParameterError):
        run(["logs", "errors", "--dir", str(winston[0]), "--start", "now", "--end", "now-1h"])


def test_relative_times_read_as_everywhere_else(
    winston: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    for start in ("now-1h30m", "now-1.5h", "now-2w"):  # once refused here, read by alerts
        argv = ["logs", "errors", "--dir", str(winston[0]), "--start", start, "--end", "now"]
        assert run([*argv, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []  # the fixture's logs are older
