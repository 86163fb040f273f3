"""The ten notebooks in real JupyterLab, as an SRE runs them mid-incident: open, Run All on the
test sandbox, wait for the kernel to be idle; no error output, no stderr, no browser console
error, every plotly chart drawn with data, history found where the ledger has it, and the
notebook not marked modified before the user changed it.

Each notebook's screenshot after Run All is kept in ``outputs/lab/NAME.png`` (a CI artefact)
and the Run All times in ``outputs/lab/run_all_times.json`` (read by ``bench/``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.ci import ROOT
from support.lab import (
    LabServer,
    close_notebook,
    lab_workbook,
    notebook_state,
    open_notebook,
    run_all,
    screenshot,
    start_lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.lab, pytest.mark.integration]

NOTEBOOKS = [
    "health_inspection.ipynb",
    "metrics_dashboard.ipynb",
    "backup_restore_drill.ipynb",
    "alert_tuning.ipynb",
    "incident_explorer.ipynb",
    "runbooks/backup_failure.ipynb",
    "runbooks/database_issues.ipynb",
    "runbooks/high_error_rate.ipynb",
    "runbooks/high_memory_usage.ipynb",
    "runbooks/slow_api_response.ipynb",
]
ARTEFACTS = ROOT / "outputs" / "lab"
#: Console lines that are JupyterLab's own, not the notebook's (terminals are switched off).
_LAB_NOISE = ("Disabling terminals plugin",)


@pytest.fixture(scope="module")
def workbook(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lab's workbook, with history in its ledger: a health inspection, a drill and the
    weekly alert tuning run by the scheduler's command, which the notebooks in Lab must find
    (alert tuning finds the history it fetched from Prometheus in the workbook's cache too,
    as after the weekly job)."""
    sandbox.require("prometheus", "mongodb", "s3")
    folder = lab_workbook(tmp_path_factory.mktemp("lab") / "workbook", sandbox.env_file)
    for notebook in ("health_inspection", "backup_restore_drill", "alert_tuning"):
        done = subprocess.run(
            [sys.executable, "-m", "sreworkbook", "--root", str(folder), "run", notebook,
             "--env", "sandbox", "-q", *(["-p", "verify_all", "false"] if "backup" in notebook else [])],
            capture_output=True, text=True, timeout=900, check=False, env=dict(os.environ),
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def lab(workbook: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = start_lab(workbook, tmp_path_factory.mktemp("lab-home"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def times() -> Iterator[dict[str, float]]:
    found: dict[str, float] = {}
    yield found
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "run_all_times.json").write_text(json.dumps(found, indent=2) + "\n")


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" or "WebGL" in msg.text else None,
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, errors
    page.close()


def _written(workbook: Path) -> set[Path]:
    """The files under ``notebooks/`` but Lab's own checkpoints (git-ignored)."""
    return {
        p.relative_to(workbook)
        for p in (workbook / "notebooks").rglob("*")
        if ".ipynb_checkpoints" not in p.parts
    }


def _bad_outputs(state: dict[str, Any]) -> list[str]:
    bad = []
    for cell in state["cells"]:
        for out in cell["outputs"]:
            kind = out.get("output_type")
            if kind == "error" or (kind == "stream" and out.get("name") == "stderr"):
                text = out.get("text") or f"{out.get('ename')}: {out.get('evalue')}"
                bad.append(f"cell {cell['index']}: {''.join(text)[:300]}")
    return bad


def _cell_text(state: dict[str, Any], needle: str) -> str:
    """Everything the cell whose source holds ``needle`` displayed."""
    for cell in state["cells"]:
        if needle in cell["source"]:
            return json.dumps(cell["outputs"])
    raise AssertionError(f"no cell with {needle!r}")


@pytest.mark.parametrize("name", NOTEBOOKS, ids=lambda n: n.removesuffix(".ipynb"))
def test_run_all_in_lab(
    lab: LabServer,
    workbook: Path,
    page: tuple[Any, list[str]],
    times: dict[str, float],
    name: str,
) -> None:
    tab, errors = page
    before = _written(workbook)
    open_notebook(tab, lab, name)
    assert notebook_state(tab)["dirty"] is False, "opening alone marks the notebook modified"
    times[name] = round(run_all(tab), 1)
    state = notebook_state(tab)
    screenshot(tab, ARTEFACTS / f"{Path(name).stem}.png")

    assert _bad_outputs(state) == []
    assert [e for e in errors if not e.startswith(_LAB_NOISE)] == []
    for chart in state["charts"]:
        assert chart["traces"] > 0 and chart["points"] > 0, chart
        assert chart["drawn"] > 0, f"an empty plot area: {chart}"
        assert chart["width"] > 200 and chart["height"] > 150, chart
    assert _written(workbook) == before, "the notebook wrote under notebooks/"
    if name == "health_inspection.ipynb":
        changes = _cell_text(state, "reports.changes_since")
        assert "First run" not in changes and "previous run" in changes
    if name == "runbooks/backup_failure.ipynb":
        assert "no restore drill recorded" not in _cell_text(state, "runbook.last_drill")
    if name == "backup_restore_drill.ipynb":
        rto = next(c for c in state["charts"] if c["title"].startswith("Restore time"))
        assert rto["points"] >= 2, "the drill's RTO trend has the recorded drill and this one"
    close_notebook(tab)


def _opened_and_run(
    lab: LabServer, page: tuple[Any, list[str]], name: str
) -> tuple[Any, list[str]]:
    """The page and its console errors, ``name`` opened and Run All done."""
    open_notebook(page[0], lab, name)
    run_all(page[0])
    return page


def _widget_charts(tab: Any) -> list[dict[str, Any]]:
    """The charts a widget drew in its output area (title and points)."""
    charts: list[dict[str, Any]] = tab.evaluate(
        """() => [...document.querySelectorAll('.widget-output .js-plotly-plot')].map(el => ({
            title: (el.layout && el.layout.title && el.layout.title.text) || '',
            points: (el._fullData || []).reduce((n, t) => n + (t.x || []).length, 0),
            traces: (el._fullData || []).filter(t => (t.x || []).length > 0).length,
            drawn: el.querySelectorAll('.scatterlayer .trace path').length,
            // traces whose line has been drawn (a line with gaps is several paths of one trace)
            lines: [...el.querySelectorAll('.scatterlayer .trace')].filter(g =>
                [...g.querySelectorAll('path.js-line')].some(p => (p.getAttribute('d') || '').length > 1)
            ).length,
        }))"""
    )
    return charts


def test_the_dashboards_route_picker_drives_the_route_charts(
    lab: LabServer, page: tuple[Any, list[str]]
) -> None:
    tab, errors = _opened_and_run(lab, page, "metrics_dashboard.ipynb")
    drawn = len(notebook_state(tab)["charts"])
    picker = tab.locator(".widget-dropdown", has_text="Route").locator("select")
    routes = [r for r in picker.locator("option").all_inner_texts() if r != "all"]
    assert routes, "the route picker lists the routes"
    assert "route charts" in tab.locator(".widget-html", has_text="route charts").inner_text()
    route = "/api/trades" if "/api/trades" in routes else routes[0]
    picker.select_option(route)
    # Plotly sets a figure's layout before it draws its traces: wait until the route's p95
    # chart has drawn a line for each of its traces with data, not only for the two titles.
    # (This period always has data; the previous one only where the history reaches back.)
    tab.wait_for_function(
        """route => {
            const mine = [...document.querySelectorAll('.widget-output .js-plotly-plot')]
                .filter(el => ((el.layout.title || {}).text || '').endsWith(route));
            const p95 = mine.find(el => el.layout.title.text.startsWith('p95'));
            if (mine.length !== 2 || p95 === undefined) return false;
            const traces = (p95._fullData || []).filter(t => (t.x || []).length > 0).length;
            const drawn = [...p95.querySelectorAll('.scatterlayer .trace')].filter(g =>
                [...g.querySelectorAll('path.js-line')].some(p => (p.getAttribute('d') || '').length > 1)
            ).length;
            return traces > 0 && drawn >= traces;
        }""",
        arg=route,
        timeout=60_000,
    )
    charts = {c["title"]: c for c in _widget_charts(tab)}
    assert set(charts) == {
        "API response time (p50 / p95 / p99)",
        "Error rate (5xx)",
        f"p95 — {route}",
        f"5xx per minute — {route}",
    }
    # that route only, every trace with data drawn (this period, and the previous one if any)
    p95 = charts[f"p95 — {route}"]
    assert p95["points"] > 0 and 1 <= p95["traces"] <= 2 and p95["lines"] == p95["traces"]
    assert charts["Error rate (5xx)"]["points"] > 0  # the service-wide chart keeps its data
    # Nothing else broke: the notebook's own charts are all still drawn.
    assert len(notebook_state(tab)["charts"]) == drawn + 4
    assert [e for e in errors if not e.startswith(_LAB_NOISE)] == []
    close_notebook(tab)


def test_the_explorer_traces_a_correlation_id_typed_in(
    lab: LabServer, page: tuple[Any, list[str]]
) -> None:
    tab, errors = _opened_and_run(lab, page, "incident_explorer.ipynb")
    cid = tab.locator(".jp-OutputArea-output table.trace").first.get_attribute(
        "data-correlation-id"
    )
    assert cid
    box = tab.locator(".widget-text", has_text="Request").locator("input")
    box.fill(cid)
    box.press("Enter")
    traced = tab.locator(f'.widget-output table.trace[data-correlation-id="{cid}"]')
    traced.wait_for(timeout=60_000)
    assert traced.locator("tbody tr").count() >= 2  # the request's lines, in time order
    assert _widget_charts(tab) == []  # the trace replaces the search chart
    assert [e for e in errors if not e.startswith(_LAB_NOISE)] == []
    close_notebook(tab)


def test_moving_a_threshold_replays_the_rule(lab: LabServer, page: tuple[Any, list[str]]) -> None:
    tab, errors = _opened_and_run(lab, page, "alert_tuning.ipynb")
    drawn = len(notebook_state(tab)["charts"])
    rule = tab.locator(".widget-dropdown", has_text="Rule").locator("select").input_value()
    readout = tab.locator(".widget-hslider", has_text="Threshold").locator(".widget-readout")
    written = float(readout.inner_text())
    readout.click()
    tab.keyboard.press("Control+A")
    tab.keyboard.type(f"{written * 2:g}")
    tab.keyboard.press("Enter")
    said = tab.locator(".widget-output .widget-html", has_text=f"At {written * 2:g} ")
    said.wait_for(timeout=60_000)
    assert f"as written {written:g}" in said.inner_text()
    tab.locator(".widget-output .js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
    charts = _widget_charts(tab)
    assert len(charts) == 1 and charts[0]["title"].startswith(rule) and charts[0]["points"] > 0
    assert charts[0]["drawn"] >= 1
    # Nothing else broke: the notebook's own charts are all still drawn.
    assert len(notebook_state(tab)["charts"]) == drawn + 1
    assert [e for e in errors if not e.startswith(_LAB_NOISE)] == []
    close_notebook(tab)
