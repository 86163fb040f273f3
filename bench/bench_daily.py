"""`sreworkbook daily` against the same notebooks run one after another by hand.

"By hand" is what a team without the workbook would script: bare `papermill` for each daily
notebook of parameters/schedule.yaml, then `jupyter nbconvert --to html --no-input` (a second
kernel-less pass, but a second process start and a re-read of the notebook). Prints the
times and the ratio; the goal is ≥ 2× on 2 cores (parallel runs, rendering in-process).
Not a test. Uses the sandbox (started if needed; stopped after if this script started it).

    .venv/bin/python bench/bench_daily.py [--runs 2] [--parallel 2]
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
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):  # 1 is CRIT: a finished run
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def by_hand(jobs: list, env_file: str, out: Path) -> float:  # type: ignore[type-arg]
    import papermill

    total = 0.0
    for job in jobs:
        notebook = ROOT / "notebooks" / f"{job.notebook}.ipynb"
        declared = papermill.inspect_notebook(str(notebook))
        executed = out / f"{job.notebook}.ipynb"
        command = [str(BIN / "papermill"), "--no-progress-bar", str(notebook), str(executed)]
        if "env" in declared:
            command += ["-p", "env", env_file]
        if "outputs_dir" in declared:
            command += ["-p", "outputs_dir", str(out / "pm")]
        for name, value in job.parameters.items():
            command += ["-p", name, str(value)]
        run = timed(command)
        render = timed(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)]
        )
        print(f"  by hand: {job.notebook}: papermill {run:.1f} s + nbconvert {render:.1f} s")
        total += run + render
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()

    from sreworkbook import sandbox
    from sreworkbook.config import environment_path, load_environment
    from sreworkbook.schedule import load_schedule

    env = load_environment("sandbox", root=ROOT)
    before = sandbox.status(env, root=ROOT)
    was_running = bool(before.components) and all(c.status == "running" for c in before.components)
    sandbox.up(env, root=ROOT)
    env_file = str(environment_path("sandbox", root=ROOT))
    jobs = [
        job
        for job in load_schedule(ROOT / "parameters" / "schedule.yaml").daily_jobs()
        if (ROOT / "notebooks" / f"{job.notebook}.ipynb").is_file()
    ]
    print(f"daily suite: {', '.join(job.notebook for job in jobs)} on sandbox")
    try:
        ours, theirs = [], []
        with tempfile.TemporaryDirectory() as kept:
            # One outputs folder for every run, as the daily job has: yesterday's ledger says
            # how long each notebook took, and the longest starts first. The first run is
            # "yesterday's" and is not timed.
            daily = [str(BIN / "sreworkbook"), "--outputs", str(Path(kept) / "o"), "daily",
                     "--env", "sandbox", "--parallel", str(args.parallel)]  # fmt: skip
            print(f"yesterday's run (not timed): {timed(daily):.1f} s")
            for i in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    ours.append(timed(daily))
                    theirs.append(by_hand(jobs, env_file, Path(tmp)))
                print(
                    f"run {i + 1}: sreworkbook daily {ours[-1]:.1f} s, by hand {theirs[-1]:.1f} s"
                )
    finally:
        if not was_running:
            sandbox.down(env, root=ROOT)
    mine, hand = statistics.median(ours), statistics.median(theirs)
    print(f"sreworkbook daily (median of {args.runs}): {mine:.1f} s")
    print(f"papermill + nbconvert one after another:   {hand:.1f} s")
    print(f"ratio: {hand / mine:.2f}x faster (goal: >= 2x on 2 cores)")
    print("(with N notebooks in parallel the bound is sum/max of their run times)")


if __name__ == "__main__":
    main()
