"""Reports and the index in headless Chromium: no console errors, charts drawn, links resolve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def outputs(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-outputs")
    for _ in range(2):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sreworkbook",
                "--root",
                str(ROOT),
                "--outputs",
                str(out),
                "run",
                "health_inspection",
                "--env",
                str(sandbox.env_file),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=dict(os.environ),
        )
    return out


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"failed to load {req.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def local_links(page: Any, base: Path) -> list[Path]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    paths = []
    for href in hrefs:
        parsed = urlparse(href)
        if parsed.scheme == "file":
            paths.append(Path(unquote(parsed.path)))
    return paths


def test_report_draws_every_chart_without_errors(browser: Any, outputs: Path) -> None:
    reports = sorted(outputs.glob("runs/*/*/report.html"))
    assert len(reports) == 2
    page, errors = open_page(browser, reports[-1])
    page.wait_for_selector(".swb-plot .main-svg", timeout=15_000)
    plots = page.locator(".swb-plot").count()
    drawn = page.locator(".swb-plot.js-plotly-plot .main-svg").count()
    assert plots >= 1 and drawn >= plots
    assert errors == []
    assert page.locator(".swb-summary .swb-status").inner_text() in {"OK", "WARN"}
    # The summary comes first: above the first chart.
    assert (
        page.locator(".swb-summary").bounding_box()["y"]
        < page.locator(".swb-plot").first.bounding_box()["y"]
    )
    links = local_links(page, reports[-1].parent)
    assert links and all(p.exists() for p in links), [p for p in links if not p.exists()]
    page.close()
