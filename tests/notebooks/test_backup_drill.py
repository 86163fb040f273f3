"""The backup drill notebook and the backup-failure runbook end to end on the real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pymongo
import pytest

from support.ledger import summaries

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"
pytestmark = [pytest.mark.notebook, pytest.mark.integration]
METRICS = {
    "backup_age_h", "rpo_h", "rto_s", "restored_docs", "mismatched_collections",
    "backups_verified", "backups_corrupt",
}  # fmt: skip


def run(
    outputs: Path, notebook: str, env_file: Path, *params: str
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), "--outputs", str(outputs)]
    args += ["run", notebook, "--env", str(env_file)]
    for pair in zip(params[::2], params[1::2], strict=True):
        args += ["-p", *pair]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=600, check=False, env=dict(os.environ)
    )


def last(outputs: Path) -> tuple[dict[str, Any], str]:
    summary = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    return summary, (outputs / summary["report"]).read_text()


def scratch_left(sandbox: Any) -> list[str]:
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000) as client:
        return [n for n in client.list_database_names() if n.endswith("_restore_test")]


def source_unchanged(sandbox: Any) -> bool:
    """The live database still holds exactly what the newest (real) nightly dump holds."""
    from sreworkbook.backups.fingerprint import fingerprint_archive, fingerprint_database
    from sreworkbook.backups.inventory import list_local

    newest = list_local(Path(sandbox.env.backups.local_dir)).objects[-1]
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000) as client:
        live = fingerprint_database(client, sandbox.env.mongodb.database)
    return live == fingerprint_archive(newest.location) and len(live) == 5


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One outputs folder for the drills of this module: the second one draws the RTO trend."""
    return tmp_path_factory.mktemp("drill-outputs")


#: What FerretDB refuses of what mongorestore sends: the "ns" of every index it restores.
NS_WARNINGS = {
    f"{c}: index option ns refused by the target, indexes built without it"
    for c in ("audit_logs", "trades", "users")
}


def test_the_full_drill_with_mongorestore(sandbox: Any, drills: Path) -> None:
    """Every planted problem found; all 100,000 documents restored by the real mongorestore."""
    sandbox.require("mongodb", "s3")
    from sreworkbook.backups.engines import find_tool, tool_version

    restore = find_tool("mongorestore", root=ROOT)
    if restore is None and IN_CI:
        pytest.fail("mongorestore not available — required when CI=true (make mongo-tools)")
    if restore is None:
        pytest.skip("mongorestore not available (make mongo-tools)")
    done = run(drills, "backup_restore_drill", sandbox.env_file, "engine", "mongorestore")
    assert done.returncode == 0, done.stdout + done.stderr
    summary, report = last(drills)
    assert summary["status"] == "WARN", summary["findings"]
    assert set(summary["metrics"]) >= METRICS, summary["metrics"]
    metrics = summary["metrics"]
    assert metrics["mismatched_collections"] == 0 and metrics["restored_docs"] == 100_000
    assert metrics["backups_verified"] == 41 and metrics["backups_corrupt"] == 3
    assert metrics["backup_age_h"] < metrics["rpo_h"] == 24
    assert {"download_s", "verify_s", "restore_s", "compare_s", "restore_docs_per_s"} <= set(
        metrics
    )
    # A sentence for a manager: what was found, what needs a look, no status code at the end.
    assert summary["headline"].startswith("The latest backup is ")
    assert "verified and restored in" in summary["headline"]
    assert "by mongorestore; " in summary["headline"]
    assert "findings need a look, the worst: " in summary["headline"]
    assert summary["headline"].endswith(".")
    titles = [f["title"] for f in summary["findings"]]
    assert sum("fails verification: corrupt" in t for t in titles) == 2  # local and S3 copies
    assert sum("fails verification: incomplete" in t for t in titles) == 1  # the cut upload
    assert "1 night(s) without a backup in s3" in titles
    assert any("smaller than usual" in t for t in titles)
    refused = {
        f["title"]
        for f in summary["findings"]
        if "by the target" in f["title"] or "(target limit)" in f["title"]
    }
    assert refused == NS_WARNINGS, refused  # what FerretDB refuses of the seeded database
    engine = f"restore engine: mongorestore (mongorestore {tool_version(restore)})"
    assert engine in titles
    assert not [f for f in summary["findings"] if f["severity"] == "CRIT"]
    assert scratch_left(sandbox) == []
    assert "Plotly.newPlot" in report and "Per-collection comparison" in report
    assert f"mongorestore {tool_version(restore)}" in report  # the drill section names it
    assert "assess_backups" not in report  # no code in the report
    assert source_unchanged(sandbox)


def test_the_full_drill_with_pymongo(sandbox: Any, drills: Path) -> None:
    """The pure-pymongo engine restores the same 100,000 documents; the RTO trend has both."""
    sandbox.require("mongodb", "s3")
    done = run(
        drills, "backup_restore_drill", sandbox.env_file,
        "engine", "pymongo", "verify_all", "false",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary, report = last(drills)
    metrics = summary["metrics"]
    assert metrics["mismatched_collections"] == 0 and metrics["restored_docs"] == 100_000
    assert metrics["backups_verified"] == 1 and "by pymongo; " in summary["headline"]
    titles = [f["title"] for f in summary["findings"]]
    assert not [t for t in titles if "target" in t]  # the pymongo engine sends no "ns"
    assert any(t.startswith("restore engine: pymongo (pymongo ") for t in titles)
    assert not [f for f in summary["findings"] if f["severity"] == "CRIT"]
    assert len(summaries(drills / "ledger.jsonl")) == 2  # the trend draws both drills
    assert "Restore time (RTO) per drill" in report and "mongorestore " in report
    assert scratch_left(sandbox) == []
    assert source_unchanged(sandbox)


def test_drilling_a_corrupt_backup_is_crit_and_cleans_up(sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("mongodb", "s3")
    import datetime as dt

    from sreworkbook.sandbox.s3_server import plan_nights

    corrupt = next(n for n in plan_nights(dt.datetime.now(dt.UTC)) if n.kind == "bad-crc")
    done = run(
        tmp_path, "backup_restore_drill", sandbox.env_file,
        "backup", corrupt.name, "verify_all", "false",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    summary, _ = last(tmp_path)
    assert summary["status"] == "CRIT"
    assert (
        f"the drilled backup {corrupt.name} is corrupt and was not restored"
        in (summary["headline"])
    )
    assert "rto_s" not in summary["metrics"]
    assert scratch_left(sandbox) == []


def test_the_runbook_walks_the_checks(sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("mongodb", "s3")
    done = run(tmp_path, "backup_failure", sandbox.env_file)
    assert done.returncode == 0, done.stdout + done.stderr
    summary, report = last(tmp_path)
    steps = {f["title"]: f for f in summary["findings"]}
    assert {"last good backup", "disk space", "S3 access", "MongoDB", "backup log"} <= set(steps)
    assert steps["S3 access"]["severity"] == "OK"
    assert "upload to s3://tradeai-backups/mongodb/" in steps["backup log"]["detail"]
    assert summary["metrics"]["s3_reachable"] == 1 and summary["metrics"]["backups_corrupt"] == 3
    assert "0 2 * * *" in report and "mongorestore" in report and "--nsTo" in report
