"""Report size and run time against papermill + nbconvert by hand, on the health notebook.

Prints ratios; not a test. Uses the sandbox (started if it is not running, stopped after).
    .venv/bin/python bench/bench_report.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from sreworkbook import sandbox
    from sreworkbook.config import environment_path, load_environment

    env = load_environment("sandbox", root=ROOT)
    was_running = not sandbox.status(env, root=ROOT).failed() and all(
        c.status == "running" for c in sandbox.status(env, root=ROOT).components
    )
    sandbox.up(env, root=ROOT)
    env_file = str(environment_path("sandbox", root=ROOT))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            ours, theirs = [], []
            for i in range(args.runs):
                ours.append(
                    timed(
                        [
                            str(BIN / "sreworkbook"),
                            "--outputs",
                            str(out / "o"),
                            "run",
                            "health_inspection",
                            "--env",
                            "sandbox",
                        ]
                    )
                )
                executed = out / f"pm{i}.ipynb"
                theirs.append(
                    timed(
                        [
                            str(BIN / "papermill"),
                            "--no-progress-bar",
                            "notebooks/health_inspection.ipynb",
                            str(executed),
                            "-p",
                            "env",
                            env_file,
                            "-p",
                            "outputs_dir",
                            str(out / "pm"),
                        ]
                    )
                    + timed(
                        [
                            str(BIN / "jupyter"),
                            "nbconvert",
                            "--to",
                            "html",
                            "--no-input",
                            str(executed),
                        ]
                    )
                )
            report = sorted((out / "o").glob("runs/*/*/report.html"))[-1]
            executed = sorted((out / "o").glob("runs/*/*/health_inspection.ipynb"))[-1]
            subprocess.run(
                [
                    str(BIN / "jupyter"),
                    "nbconvert",
                    "--to",
                    "html",
                    str(executed),
                    "--output-dir",
                    str(out / "nbc"),
                ],
                check=True,
                capture_output=True,
            )
            default_html = next((out / "nbc").glob("*.html"))
            ours_size, default_size = report.stat().st_size, default_html.stat().st_size
            print(f"report.html: {ours_size / 1024:,.0f} KB (plotly.js shared, not inlined)")
            print(
                f"nbconvert default HTML of the same executed notebook: {default_size / 1024:,.0f} KB"
            )
            print(f"size ratio nbconvert/ours: {default_size / ours_size:,.1f}x  (goal >= 10x)")
            o, t = statistics.median(ours), statistics.median(theirs)
            print(f"sreworkbook run: median {o:.2f} s over {args.runs} runs")
            print(f"papermill + nbconvert --no-input: median {t:.2f} s")
            print(f"time ratio (theirs/ours): {t / o:.2f}x  (goal >= 1.0: no slower)")
    finally:
        if not was_running:
            sandbox.down(env, root=ROOT)


if __name__ == "__main__":
    main()
