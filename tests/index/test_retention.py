"""Prune keeps what it must (latest, baselines, recent, newest N) and removes what it should."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.index import Expectations
from sreworkbook.index.cli import register
from sreworkbook.index.retention import RetentionPolicy, plan_prune, prune
from sreworkbook.index.storage import LocalOutputs
from sreworkbook.reports.ledger import Ledger
from sreworkbook.results import RunSummary, Status

NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)


def summary(
    notebook: str, started: datetime, *, report: bool = True, baseline: str | None = None
) -> RunSummary:
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{notebook}-sandbox-{started.microsecond:06x}"
    return RunSummary(
        Status.OK,
        "fine",
        notebook=notebook,
        env="sandbox",
        run_id=run_id,
        started_at=f"{started:%Y-%m-%dT%H:%M:%SZ}",
        finished_at=f"{started + timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}",
        parameters={"env": "sandbox", **({"baseline": baseline} if baseline else {})},
        report=f"runs/{started:%Y-%m-%d}/{run_id}/report.html" if report else "",
    )


def folder(out: Path, path: str, *, written: datetime) -> Path:
    target = out / path
    target.mkdir(parents=True)
    (target / "report.html").write_text("<p>report</p>")
    (target / "summary.json").write_text("{}")
    for item in (target / "report.html", target / "summary.json", target):
        os.utime(item, (written.timestamp(), written.timestamp()))
    return target


def record(out: Path, item: RunSummary) -> None:
    if item.report:
        folder(out, item.report.rsplit("/", 1)[0], written=datetime.fromisoformat(item.finished_at))
    Ledger(out / "ledger.jsonl").append(item)


@pytest.fixture
def outputs(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """60 daily health runs, 3 old drill runs, baselines, a timeout, staging and orphans."""
    out = tmp_path / "outputs"
    ids: dict[str, str] = {}
    health = [summary("health_inspection", NOW - timedelta(days=d, hours=1)) for d in range(60)]
    health.reverse()  # oldest first, as a ledger is
    ids["baseline_file"] = health[0].run_id  # 60 days old, named in baselines.json
    ids["baseline_param"] = health[1].run_id  # 59 days old, named by a later run's parameters
    ids["recent_edge"] = health[-30].run_id  # 29 days old: within 30 days
    ids["old_edge"] = health[-32].run_id  # 31 days old: goes
    for item in health[:-1]:
        record(out, item)
    latest = summary(
        "health_inspection",
        NOW - timedelta(hours=1),
        baseline=f"runs/{health[1].started_at[:10]}/{health[1].run_id}/summary.json",
    )
    record(out, latest)
    drills = [summary("backup_restore_drill", NOW - timedelta(days=d)) for d in (90, 80, 70)]
    for item in drills:
        record(out, item)
    ids["drill_latest"] = drills[-1].run_id
    ids["drill_oldest"] = drills[0].run_id
    timeout = summary("health_inspection", NOW - timedelta(days=45, minutes=3), report=False)
    Ledger(out / "ledger.jsonl").append(timeout)
    ids["timeout"] = timeout.run_id
    (out / "baselines.json").write_text(
        json.dumps({"health_inspection/sandbox": ids["baseline_file"]})
    )
    folder(out, "runs/2026-11-17/.staging-killed", written=NOW - timedelta(days=3))
    folder(out, "runs/2026-11-20/.staging-running", written=NOW - timedelta(minutes=5))
    folder(out, "runs/2026-08-01/20260801T000000Z-orphan", written=NOW - timedelta(days=111))
    folder(out, "runs/2026-11-20/20261120T072900Z-just-renamed", written=NOW - timedelta(minutes=1))
    (out / "schedule").mkdir()
    (out / "schedule" / "heartbeats.json").write_text("{}")
    return out, ids


def folders(out: Path) -> set[str]:
    return {p.name for p in (out / "runs").glob("*/*")}


def test_prune_keeps_what_it_must_and_removes_the_rest(
    outputs: tuple[Path, dict[str, str]],
) -> None:
    out, ids = outputs
    before = folders(out)
    result = prune(LocalOutputs(out), RetentionPolicy(keep_days=30, keep_runs=20), now=NOW)
    after = folders(out)
    kept = {run.run_id for run in Ledger(out / "ledger.jsonl")}
    # kept: the baselines, the last 30 days, a job's latest run even when old, the living
    assert {ids["baseline_file"], ids["baseline_param"], ids["recent_edge"]} <= kept
    assert ids["drill_latest"] in kept and ids["drill_latest"] in after
    assert {".staging-running", "20261120T072900Z-just-renamed"} <= after
    assert (out / "schedule" / "heartbeats.json").is_file()
    # removed: older than 30 days beyond the newest 20, killed staging, old orphans
    assert ids["old_edge"] not in kept and ids["old_edge"] not in after
    assert ids["timeout"] not in kept
    assert {".staging-killed", "20260801T000000Z-orphan"}.isdisjoint(after)
    assert ids["drill_oldest"] in kept  # three drills are fewer than 20: all kept
    assert len(kept) == 30 + 2 + 3  # 30 recent health runs, 2 baselines, 3 drills
    assert len(before) - len(after) == 60 - 32 + 2
    assert result.ledger_lines_removed == 60 - 32 + 1
    assert not (out / "runs" / "2026-08-01").exists()  # empty day folders go too
    log = "\n".join(result.lines())
    assert ids["old_edge"] in log
    assert f"removed ledger line {ids['timeout']}" in log
    assert "left by a killed run, last written 3d ago" in log
    assert f"kept baseline {ids['baseline_file']}" in log
    # the index was rebuilt and links only to reports that exist
    page = (out / "index.html").read_text()
    assert ids["old_edge"] not in page
    for href in re.findall(r'href="(runs/[^"]+)"', page):
        assert (out / href).is_file(), href


def test_keep_runs_keeps_the_newest_n_however_old(outputs: tuple[Path, dict[str, str]]) -> None:
    out, ids = outputs
    prune(LocalOutputs(out), RetentionPolicy(keep_days=0, keep_runs=2), now=NOW)
    kept = [run.run_id for run in Ledger(out / "ledger.jsonl")]
    drills = [r for r in kept if "backup_restore_drill" in r]
    assert len(drills) == 2 and ids["drill_latest"] in drills
    health = [r for r in kept if "health_inspection" in r]
    assert set(health) == {ids["baseline_file"], ids["baseline_param"], *health[-2:]}


def test_dry_run_changes_nothing(outputs: tuple[Path, dict[str, str]]) -> None:
    out, _ = outputs
    before = (folders(out), (out / "ledger.jsonl").read_bytes())
    planned = plan_prune(LocalOutputs(out), RetentionPolicy(), now=NOW)
    done = prune(LocalOutputs(out), RetentionPolicy(), now=NOW, dry_run=True)
    assert done.removed == planned.removed and done.dry_run
    assert (folders(out), (out / "ledger.jsonl").read_bytes()) == before
    assert done.lines()[0].startswith("would remove ")


def test_bad_policy_is_bad_input() -> None:
    with pytest.raises(ParameterError, match="--keep-days"):
        RetentionPolicy(keep_days=-1)


def test_outputs_prune_command(
    outputs: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, ids = outputs
    parser = argparse.ArgumentParser()
    parser.add_argument("--outputs")
    register(parser.add_subparsers(dest="command"), expected=lambda root, now: Expectations())
    args = parser.parse_args(["--outputs", str(out), "outputs", "prune", "--keep-runs", "25"])
    assert args.handler(args, out.parent, out) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"prune {out}: keep 30 days and at least 25 run(s) per job\n")
    assert ids["old_edge"] in printed and "index: " in printed


def _append_runs(path: str, start: int) -> None:
    ledger = Ledger(Path(path))
    for i in range(start, start + 150):
        ledger.append(summary("probe", NOW + timedelta(microseconds=i)))


def test_ledger_rewrite_loses_no_concurrent_append(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    ledger = Ledger(out / "ledger.jsonl")
    doomed = [summary("old", NOW - timedelta(days=99, microseconds=i)) for i in range(300)]
    for item in doomed:
        ledger.append(item)
    writers = [
        multiprocessing.Process(target=_append_runs, args=(str(out / "ledger.jsonl"), k * 1000))
        for k in range(3)
    ]
    for writer in writers:
        writer.start()
    local = LocalOutputs(out)
    removed = 0
    for chunk in range(0, 300, 30):  # rewrite again and again while they append
        names = {item.run_id.encode() for item in doomed[chunk : chunk + 30]}

        def drop(line: bytes, names: set[bytes] = names) -> bool:
            return any(name in line for name in names)

        removed += local.rewrite_ledger(drop)
    for writer in writers:
        writer.join()
    runs = [run.run_id for run in Ledger(out / "ledger.jsonl")]
    assert removed == 300
    assert len(runs) == 450 == len(set(runs))
    assert all("-probe-" in run_id for run_id in runs)


def test_prune_of_empty_outputs_does_nothing(tmp_path: Path) -> None:
    result = prune(LocalOutputs(tmp_path), RetentionPolicy(), now=NOW)
    assert result.removed == () and result.kept_runs == 0
    assert "No runs yet" in (tmp_path / "index.html").read_text()
