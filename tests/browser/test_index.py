"""The manager's index in headless Chromium: a year of history opens fast and clean, on a phone
too; on a small real example every link resolves to a file."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from sreworkbook.index.page import build_index
from sreworkbook.index.sample import write_sample_ledger
from sreworkbook.reports.ledger import Ledger
from sreworkbook.reports.pipeline import RunRequest, run_notebook
from sreworkbook.results import Finding, RunSummary, Status

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
pytestmark = [pytest.mark.browser]


def open_page(browser: Any, path: Path, *, width: int = 390) -> tuple[Any, list[str], float]:
    """The page at ``path`` (a phone's viewport by default), its errors and its load time."""
    page = browser.new_page(viewport={"width": width, "height": 844})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"failed to load {req.url}"))
    started = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, time.perf_counter() - started


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("year")
    assert write_sample_ledger(out / "ledger.jsonl", now=NOW) > 10_000
    build_index(out, now=NOW)
    return out


@pytest.mark.parametrize("width", [390, 1280])
def test_a_year_of_history_opens_fast_without_errors(browser: Any, year: Path, width: int) -> None:
    page, errors, took = open_page(browser, year / "index.html", width=width)
    print(
        f"index of a year ({(year / 'index.html').stat().st_size:,} bytes) opened in {took:.2f} s"
    )
    assert took < 2.0
    assert errors == []
    assert page.locator(".swb-grid tbody tr").count() == 5
    assert page.locator(".swb-grid td").count() == 5 * 14
    assert page.locator(".swb-job svg.swb-spark").count() >= 4
    # today is the rightmost column and on screen without scrolling, on a phone too
    today = page.locator(".swb-grid thead th.swb-today").bounding_box()
    days = page.locator(".swb-grid thead th[title]").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().right)"
    )
    assert today["x"] + today["width"] == max(days) <= width
    page.close()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real runs of the probe notebook (OK, CRIT, a failure) and a timed-out run."""
    root = tmp_path_factory.mktemp("workbook")
    (root / "parameters").mkdir()
    (root / "notebooks").mkdir()
    (root / "parameters" / "test.yaml").write_text("name: test\n")
    shutil.copy(FIXTURES / "notebooks" / "probe.ipynb", root / "notebooks")
    outputs = root / "outputs"
    for mode in ("ok", "crit", "fail"):
        request = RunRequest("probe", "test", root, outputs, parameters={"mode": mode})
        run_notebook(request, environ={})
    now = datetime.now(UTC)
    Ledger(outputs / "ledger.jsonl").append(
        RunSummary(
            Status.ERROR,
            "timed out after 300 s",
            findings=(Finding(Status.ERROR, "Run timed out"),),
            notebook="probe",
            env="test",
            run_id="timeout-run",
            started_at=f"{now - timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}",
            finished_at=f"{now:%Y-%m-%dT%H:%M:%SZ}",
        )
    )
    build_index(outputs)
    return outputs


def test_every_link_of_a_real_index_resolves(browser: Any, small: Path) -> None:
    page, errors, _ = open_page(browser, small / "index.html")
    assert errors == []
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    files = [Path(unquote(urlparse(h).path)) for h in hrefs]
    assert len(files) >= 5  # grid cell, job link, three report chips, the ledger
    assert all(p.is_file() for p in files), [p for p in files if not p.is_file()]
    chips = page.locator(".swb-chip")
    assert chips.count() == 4
    timeout = chips.first  # the newest: the timeout, shown but not linked
    assert timeout.evaluate("e => e.tagName") == "SPAN"
    assert "timed out" in timeout.get_attribute("title")
    # a report reached from the index opens without errors and draws its chart
    report = files[[p.name for p in files].index("report.html")]
    linked, errors, _ = open_page(browser, report)
    linked.wait_for_selector(".swb-plot .main-svg", timeout=15_000)
    assert errors == []
    linked.close()
    page.close()
