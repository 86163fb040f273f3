"""Ledger appends, previous-run comparison and the index page."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from sreworkbook.index import build_index
from sreworkbook.reports import Ledger, changes_since, compare
from sreworkbook.results import Finding, RunSummary, Status


def _summary(i: int, status: Status = Status.OK, notebook: str = "health_inspection") -> RunSummary:
    return RunSummary(
        status,
        f"run {i}",
        notebook=notebook,
        env="sandbox",
        run_id=f"r{i}",
        started_at=f"2026-11-{i:02d}T00:00:00Z",
        finished_at=f"2026-11-{i:02d}T00:01:00Z",
        report=f"runs/2026-11-{i:02d}/r{i}/report.html",
    )


def _append_many(path: str, start: int) -> None:
    ledger = Ledger(Path(path))
    for i in range(start, start + 200):
        ledger.append(_summary(i % 28 + 1))


def test_parallel_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    procs = [
        multiprocessing.Process(target=_append_many, args=(str(path), k * 1000)) for k in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert len(path.read_text().splitlines()) == 800
    assert len(Ledger(path).runs()) == 800


def test_bad_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path).append(_summary(1))
    with path.open("a") as handle:
        handle.write('{"status": "OK", "headl')  # a torn write
    assert [r.run_id for r in Ledger(path)] == ["r1"]


def test_changes_since_previous_run(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    first = compare(None, [Finding(Status.CRIT, "mongodb: ping")])
    assert first.previous_run is None
    previous = RunSummary(
        Status.CRIT,
        "x",
        notebook="health_inspection",
        env="sandbox",
        run_id="r1",
        finished_at="2026-12-07T01:54:05Z",
        findings=(Finding(Status.CRIT, "mongodb: ping"), Finding(Status.WARN, "redis: memory")),
    )
    ledger.append(previous)
    changes = changes_since(
        tmp_path,
        "health_inspection",
        "sandbox",
        [Finding(Status.WARN, "redis: memory"), Finding(Status.CRIT, "ai: health")],
    )
    assert [f.title for f in changes.new] == ["ai: health"]
    assert [f.title for f in changes.resolved] == ["mongodb: ping"]
    assert [f.title for f in changes.ongoing] == ["redis: memory"]
    assert changes.headline == (
        "Since the previous run (2026-12-07 01:54 UTC): 1 new problem(s), 1 resolved."
    )


def test_index_lists_latest_worst_first_with_links(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    for i in range(1, 4):
        ledger.append(_summary(i))
    ledger.append(_summary(5, Status.CRIT, notebook="backup_restore_drill"))
    now = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
    page = build_index(tmp_path, now=now).read_text()
    assert page.index("backup_restore_drill") < page.index("health_inspection")
    assert 'href="runs/2026-11-03/r3/report.html"' in page
    assert page.count('class="swb-chip s-') == 4
    assert "1 CRIT" in page and "1 OK" in page and "1 failing" in page


def test_empty_index(tmp_path: Path) -> None:
    assert "No runs yet" in build_index(tmp_path).read_text()
