"""The manager's index: a year of generated history (12,800 runs) plus hand-made cases.

The grid is checked against a naive recount of the ledger; ordering, staleness, what changed
since yesterday and reportless (timed-out) runs against cases built by hand.
"""

from __future__ import annotations

import html
import re
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sreworkbook.index.ledger_lines import read_ledger
from sreworkbook.index.model import summarise
from sreworkbook.index.page import build_index, render_index
from sreworkbook.index.render import ago, sparkline
from sreworkbook.index.sample import write_sample_ledger
from sreworkbook.reports.ledger import Ledger
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.schedule import Job, Schedule, expectations, load_expectations

NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(
    notebook: str,
    started: str,
    status: Status = Status.OK,
    *,
    env: str = "staging",
    findings: tuple[str, ...] = (),
    report: bool = True,
    metrics: dict[str, float] | None = None,
) -> RunSummary:
    begin = at(started)
    run_id = f"{begin:%Y%m%dT%H%M%SZ}-{notebook}-{env}-{len(findings)}{status.value.lower()}"
    return RunSummary(
        status,
        f"{notebook} said {status.value}",
        metrics=metrics or {},
        findings=tuple(Finding(status, title) for title in findings),
        notebook=notebook,
        env=env,
        run_id=run_id,
        started_at=f"{begin:%Y-%m-%dT%H:%M:%SZ}",
        finished_at=f"{begin + timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}",
        report=f"runs/{begin:%Y-%m-%d}/{run_id}/report.html" if report else "",
    )


def hand_made() -> list[RunSummary]:
    """Staging jobs, each showing one thing the index must get right."""
    runs = [
        # stale since this morning: daily, last run 27 h ago (no schedule: stale after 26 h)
        *(run("metrics_dashboard", f"2026-11-{d:02d}T04:00:00") for d in range(10, 20)),
        # changed OK -> CRIT with a new finding; failing
        run("backup_restore_drill", "2026-11-19T03:00:00"),
        run(
            "backup_restore_drill", "2026-11-20T03:00:00", Status.CRIT, findings=("restore fails",)
        ),
        # latest run timed out: ERROR and no report
        run("health_inspection", "2026-11-19T05:00:00"),
        run("health_inspection", "2026-11-20T06:00:00"),
        run("health_inspection", "2026-11-20T06:30:00", Status.ERROR, report=False),
        # changed WARN -> OK, its finding resolved
        run("alert_tuning", "2026-11-13T07:00:00", Status.WARN, findings=("too many pages",)),
        run("alert_tuning", "2026-11-20T07:00:00", metrics={"pages_per_week_after": 4.0}),
    ]
    return runs


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An outputs folder whose ledger holds a year of five jobs plus the hand-made cases."""
    out = tmp_path_factory.mktemp("year")
    count = write_sample_ledger(out / "ledger.jsonl", now=NOW)
    ledger = Ledger(out / "ledger.jsonl")
    for item in hand_made():
        ledger.append(item)
    assert count > 10_000
    return out


@pytest.fixture(scope="module")
def page(year: Path) -> str:
    started = time.perf_counter()
    built = build_index(year, now=NOW)
    took = time.perf_counter() - started
    print(f"index of {sum(1 for _ in Ledger(year / 'ledger.jsonl'))} runs built in {took:.2f} s")
    assert took < 5.0
    return built.read_text(encoding="utf-8")


def naive_grid(ledger: Path) -> dict[tuple[str, str], dict[date, tuple[Status, str]]]:
    """Worst status and latest report per job and day, recounted the obvious way."""
    grid: dict[tuple[str, str], dict[date, list[RunSummary]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for item in Ledger(ledger):
        day = at(item.started_at[:19]).date()
        if NOW.date() - timedelta(days=13) <= day <= NOW.date():
            grid[(item.notebook, item.env)][day].append(item)
    result: dict[tuple[str, str], dict[date, tuple[Status, str]]] = {}
    for job, days in grid.items():
        result[job] = {}
        for day, runs in days.items():
            worst = max((r.status for r in runs), key=lambda s: s.rank)
            reported = [r for r in runs if r.report]
            latest = max(reported, key=lambda r: r.finished_at).report if reported else ""
            result[job][day] = (worst, latest)
    return result


def test_grid_matches_a_naive_recount(year: Path, page: str) -> None:
    view = summarise(read_ledger(year / "ledger.jsonl"), now=NOW)
    expected = naive_grid(year / "ledger.jsonl")
    assert len(view.jobs) == 9
    for job in view.jobs:
        assert [c.day for c in job.cells][-1] == NOW.date()  # today at the right
        assert len(job.cells) == 14
        for cell in job.cells:
            want = expected[(job.notebook, job.env)].get(cell.day)
            if want is None:
                assert cell.status is None and cell.runs == 0
            else:
                assert (cell.status, cell.report) == want, (job.name, cell.day)
    # The page draws the same cells: one per job and day, coloured and linked.
    cells = re.findall(r'class="swb-cell ([^"]+)"(?: href="([^"]*)")?', page)
    assert len(cells) == 9 * 14
    counted: dict[str, int] = defaultdict(int)
    for days in expected.values():
        for worst, _ in days.values():
            counted[worst.value] += 1
    for status in Status:
        assert sum(1 for cls, _ in cells if cls == f"s-{status.value}") == counted[status.value]


def test_failing_then_stale_then_the_rest(year: Path, page: str) -> None:
    view = summarise(read_ledger(year / "ledger.jsonl"), now=NOW)
    names = [job.name for job in view.jobs]
    assert names[:2] == ["health_inspection · staging", "backup_restore_drill · staging"]
    groups = [0 if job.failing else 1 if job.stale else 2 for job in view.jobs]
    assert groups == sorted(groups)
    stale = next(job for job in view.jobs if job.name == "metrics_dashboard · staging")
    assert stale.stale and not stale.failing
    # The page shows the jobs in that order, in the grid and in the cards.
    cards = re.findall(r'<article class="swb-job" id="([^"]+)"', page)
    assert cards == [job.anchor for job in view.jobs]
    assert page.index("health_inspection · staging") < page.index("metrics_dashboard · staging")
    assert "2 failing" in page and "1 stale" in page


def test_what_changed_since_yesterday(page: str) -> None:
    section = page.split("What changed since yesterday", 1)[1].split("<h2>", 1)[0]
    items = {
        re.sub(r"<[^>]+>", "", html.unescape(li)) for li in re.findall(r"<li>(.*?)</li>", section)
    }
    assert (
        "OK → CRIT backup_restore_drill · staging: backup_restore_drill said CRIT"
        " — new: restore fails" in items
    )
    assert (
        "WARN → OK alert_tuning · staging: alert_tuning said OK — resolved: too many pages" in items
    )
    assert "OK → ERROR health_inspection · staging: health_inspection said ERROR" in items
    assert "stale metrics_dashboard · staging — no run since 2026-11-19 04:05 UTC" in items


def test_sparklines_of_key_metrics(year: Path, page: str) -> None:
    view = summarise(read_ledger(year / "ledger.jsonl"), now=NOW)
    trends = {job.name: [t.metric.name for t in job.trends] for job in view.jobs}
    assert trends["metrics_dashboard · production"] == ["availability", "p95_ms"]
    assert trends["backup_restore_drill · production"] == ["backup_age_h", "rto_s"]
    assert trends["alert_tuning · production"] == ["pages_per_week_after"]
    assert trends["incident_explorer · production"] == []
    assert page.count('<svg class="swb-spark"') == sum(len(t) for t in trends.values())
    assert "<script" not in page  # static: no JS


def test_reportless_runs_have_no_link(page: str) -> None:
    card = page.split('id="job-health_inspection--staging"', 1)[1].split("</article>", 1)[0]
    assert 'href=""' not in page
    chips = re.findall(r'<(a|span) class="swb-chip s-(\w+)"', card)
    assert chips[0] == ("span", "ERROR")  # the timeout: newest, not a link
    assert all(tag == "a" for tag, _ in chips[1:])
    heading = card.split("</h3>", 1)[0]
    assert "<a " not in heading  # the latest run has no report to open


def test_page_stays_small(page: str) -> None:
    assert len(page.encode()) < 150_000


def test_schedule_sets_staleness_and_lists_jobs_never_run(year: Path) -> None:
    schedule = Schedule(
        jobs=[
            Job(name="health", notebook="health_inspection", env="production", cron="*/15 * * * *"),
            Job(name="drill", notebook="backup_restore_drill", env="production", cron="0 3 * * *"),
            Job(name="digest", notebook="incident_digest", env="production", cron="0 6 * * *"),
        ]
    )
    expected = expectations(schedule, now=NOW)
    page = render_index(read_ledger(year / "ledger.jsonl"), now=NOW, expected=expected)
    # every 15 min, last ran 45 min ago: stale; daily, ran 4 h ago: not
    health = page.split('id="job-health_inspection--production"', 1)[1].split("</article>")[0]
    drill = page.split('id="job-backup_restore_drill--production"', 1)[1].split("</article>")[0]
    assert ">stale<" in health and ">stale<" not in drill
    assert "<code>*/15 * * * *</code>" in health
    assert "Scheduled, never run" in page and "<b>digest</b>" in page


def test_unreadable_schedule_is_a_note_not_a_failure(tmp_path: Path) -> None:
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "schedule.yaml").write_text("jobs: [{name: x, cron: nope}]\n")
    Ledger(tmp_path / "outputs" / "ledger.jsonl").append(run("alert_tuning", "2026-11-20T07:00:00"))
    expected = load_expectations(tmp_path / "parameters" / "schedule.yaml", now=NOW)
    page = build_index(tmp_path / "outputs", now=NOW, expected=expected).read_text()
    assert "The schedule could not be read" in page


def test_age_is_relative_to_the_injected_now() -> None:
    assert ago(NOW, NOW - timedelta(seconds=20)) == "just now"
    assert ago(NOW, NOW - timedelta(minutes=25)) == "25 min ago"
    assert ago(NOW, NOW - timedelta(hours=3, minutes=59)) == "3 h ago"
    assert ago(NOW, NOW - timedelta(days=3)) == "3 d ago"
    page = render_index([run("alert_tuning", "2026-11-20T04:25:00")], now=NOW)
    assert "3 h ago (2026-11-20 04:30 UTC)" in page


def test_sparkline_bridges_gaps_with_a_dashed_line() -> None:
    svg = sparkline([1.0, 2.0, None, None, 3.0], title="t")
    assert svg.count("<path") == 2 and 'stroke-dasharray="2 3"' in svg
    assert sparkline([None, None], title="t") == ""
    assert "<circle" in sparkline([5.0], title="t")


def test_summary_objects_and_ledger_lines_give_the_same_page(year: Path) -> None:
    runs = hand_made()
    assert render_index(runs, now=NOW) == render_index(iter(runs), now=NOW)
    ledger = Ledger(year / "hand.jsonl")
    for item in runs:
        ledger.append(item)
    assert render_index(read_ledger(year / "hand.jsonl"), now=NOW) == render_index(runs, now=NOW)


def test_only_relative_report_paths_become_links() -> None:
    odd = [
        run("alert_tuning", "2026-11-20T05:00:00"),
        RunSummary(
            Status.OK,
            "<script>alert(1)</script>",
            notebook="alert_tuning",
            env="staging",
            run_id="odd",
            started_at="2026-11-20T06:00:00Z",
            finished_at="2026-11-20T06:01:00Z",
            report="javascript:alert(1)",
        ),
    ]
    page = render_index(odd, now=NOW)
    assert "javascript:" not in page and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
