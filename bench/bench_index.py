"""The manager's index with a year of history: build time, page weight and open time.

Prints figures and ratios; not a test.

    .venv/bin/python bench/bench_index.py [--days 365] [--runs 5]

A synthetic ledger of five jobs over ``--days`` days (12,800 runs for a year, about 27 MB of
JSON lines, each with a few KB of masked parameters, as real lines have) is built into
``index.html`` ``--runs`` times (median, and the first, cold call). The page opens in
headless Chromium (Debian's, when installed). For comparison: reading the same ledger the
way the previous index did (a :class:`RunSummary` per line) and with pandas'
``read_json(lines=True)``, the tool a user would reach for.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """``(first, median)`` seconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times[0], statistics.median(times)


def open_in_chromium(page: Path) -> float | None:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 390, "height": 844})
        tab.goto(page.as_uri())  # warm the browser once
        times = []
        for _ in range(5):
            started = time.perf_counter()
            tab.goto(page.as_uri())
            tab.wait_for_load_state("load")
            times.append(time.perf_counter() - started)
        browser.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import pandas as pd

    from sreworkbook.index.page import build_index
    from sreworkbook.index.sample import write_sample_ledger
    from sreworkbook.reports.ledger import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        ledger = out / "ledger.jsonl"
        count = write_sample_ledger(ledger, now=NOW, days=args.days)
        print(f"ledger: {count:,} runs, {ledger.stat().st_size / 1e6:,.1f} MB ({args.days} days)")

        first, build = timed(lambda: build_index(out, now=NOW), args.runs)
        page = out / "index.html"
        weight = page.stat().st_size
        packed = len(gzip.compress(page.read_bytes()))
        print(f"index build: median {build:.2f} s, first {first:.2f} s (goal < 5 s)")
        print(f"page weight: {weight / 1024:,.1f} KB ({packed / 1024:,.1f} KB gzipped), no JS")

        _, summaries = timed(lambda: sum(1 for _ in Ledger(ledger)), args.runs)
        _, frame = timed(lambda: pd.read_json(ledger, lines=True), max(1, args.runs // 2))
        print(f"reading it as RunSummary objects (the previous index): {summaries:.2f} s")
        print(f"pandas.read_json(lines=True), reading only: {frame:.2f} s")
        print(
            f"ratios: previous reader / our whole build {summaries / build:.1f}x, "
            f"pandas read / our whole build {frame / build:.1f}x"
        )
        opened = open_in_chromium(page)
        if opened is None:
            print("open in Chromium: skipped (chromium not installed)")
        else:
            print(f"open in headless Chromium (phone viewport): median {opened:.3f} s (goal < 2 s)")


if __name__ == "__main__":
    main()
