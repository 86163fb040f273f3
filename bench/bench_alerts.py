"""Alert backtests and sweeps against replaying every candidate through Prometheus.

For the seed's four rules over 30 days of sandbox history at a 15 s evaluation interval
(172,801 evaluations per series):

* the state machine alone, per rule;
* a 1,000-candidate sweep (threshold × for × keep_firing_for from ``parameters/alerts.yaml``)
  from ONE range query of the signal, scores included;
* the alternative: one range query per candidate of the candidate's whole expression (so
  Prometheus applies the threshold), then the state machine. A few candidates per rule are
  really replayed and timed; the total for 1,000 is extrapolated. Their episodes are checked
  to be identical to the sweep's.

Prints ratios; not a test. Starts its own Prometheus on a free loopback port over the
sandbox's generated history (cached under .sandbox/bench-cache).

    .venv/bin/python bench/bench_alerts.py [--replays 3] [--prometheus URL]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
JOB = "tradeai-backend"
SEED = ("HighErrorRate", "SlowAPIResponse", "HighMemoryUsage", "DatabaseConnectionFailures")
DAY_MS = 86_400_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prometheus(stack: ExitStack) -> tuple[str, Path]:
    """A Prometheus over 30 days of sandbox history; returns its URL and the incidents file."""
    from sreworkbook.sandbox.backfill import load_history
    from sreworkbook.sandbox.history import HistorySpec

    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    work = ROOT / ".sandbox" / "bench-cache"
    tsdb = work / "tsdb"
    incidents = work / "incidents.json"
    spec = HistorySpec.ending_now(
        datetime.now(UTC), job=JOB, instance="127.0.0.1:18080", days=30, step=60
    )
    began = time.perf_counter()
    report = load_history(
        spec,
        tsdb=tsdb,
        incidents_file=incidents,
        promtool=promtool,
        cache_dir=work / "history",
        log=lambda line: print(f"  {line}", file=sys.stderr),
    )
    print(f"history: {report.summary()} ({time.perf_counter() - began:.1f} s)")
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    config = folder / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1h}\nscrape_configs: []\n", encoding="utf-8")
    port = _free_port()
    log = stack.enter_context((folder / "prometheus.log").open("wb"))
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            "--query.timeout=5m",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return url, incidents
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("prometheus did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replays", type=int, default=3, help="real replays per rule (default 3)")
    parser.add_argument("--prometheus", help="use this Prometheus (holding the sandbox history)")
    parser.add_argument("--incidents", help="incidents file for --prometheus")
    args = parser.parse_args()

    from sreworkbook.alerts import EvalGrid, backtest, evaluate_signal, load_rules
    from sreworkbook.alerts.backtest import firing_episodes, instance_presence, present_runs
    from sreworkbook.alerts.scoring import sweep
    from sreworkbook.known_incidents import load_incidents
    from sreworkbook.sources.prometheus import PrometheusSource

    rules = load_rules(ROOT / "parameters" / "alerts.yaml")
    with ExitStack() as stack:
        if args.prometheus:
            url = args.prometheus
            incidents_file = Path(args.incidents) if args.incidents else None
        else:
            url, incidents_file = start_prometheus(stack)
        incidents = load_incidents(incidents_file) if incidents_file else ()
        session = stack.enter_context(requests.Session())
        client = PrometheusSource(url, session=session, timeout_s=300)
        end_ms = (int(time.time() * 1000) - 10 * 60_000) // 60_000 * 60_000
        start_ms = end_ms - 30 * DAY_MS
        totals = {"local": 0.0, "replay": 0.0, "replay_thresholds": 0.0}
        print(
            f"\n{'rule':28} {'evals':>8} {'series':>6} {'fetch':>7} {'machine':>8} "
            f"{'sweep1000':>9} {'replay/cand':>11} {'replay1000':>10} {'ratio':>7} {'same':>5}"
        )
        for name in SEED:
            rule = rules.get(name)
            grid_spec = rules.tuning[name]
            grid = EvalGrid.between(start_ms, end_ms, rule.interval_ms)
            began = time.perf_counter()
            signal = evaluate_signal(client, rule.signal, grid)
            fetch_s = time.perf_counter() - began

            began = time.perf_counter()
            backtest(rule, signal)
            machine_s = time.perf_counter() - began

            began = time.perf_counter()
            scores = sweep(
                rule,
                signal,
                incidents,
                thresholds=grid_spec.thresholds,
                for_ms=grid_spec.for_,
                keep_firing_for_ms=grid_spec.keep_firing_for,
                kind=grid_spec.kind,
            )
            sweep_s = time.perf_counter() - began
            candidates = len(scores)

            # Replays: a few candidates, each its own range query of the whole expression.
            picks = [
                (grid_spec.thresholds[i * len(grid_spec.thresholds) // args.replays],
                 grid_spec.for_[(3 * i + 4) % len(grid_spec.for_)],
                 grid_spec.keep_firing_for[(7 * i + 2) % len(grid_spec.keep_firing_for)])
                for i in range(args.replays)
            ]  # fmt: skip
            replay_times, same = [], True
            for threshold, for_ms, keep_ms in picks:
                candidate = rule.tuned(
                    threshold=threshold, for_ms=for_ms, keep_firing_for_ms=keep_ms
                )
                began = time.perf_counter()
                whole = evaluate_signal(client, candidate.expr, grid)
                replayed = backtest(candidate, whole)
                replay_times.append(time.perf_counter() - began)
                # The same candidate from the one fetched signal:
                local = []
                for identity, present in instance_presence(rule, signal, threshold):
                    first, last = firing_episodes(
                        present_runs(present), grid.steps(for_ms), grid.steps(keep_ms)
                    )
                    if first.size:
                        local.append((sorted(identity.items()), first.tolist(), last.tolist()))
                remote = [
                    (
                        sorted(i.labels.items()),
                        [(e.first_ms - grid.start_ms) // grid.step_ms for e in i.episodes],
                        [(e.last_ms - grid.start_ms) // grid.step_ms for e in i.episodes],
                    )
                    for i in replayed
                ]
                same = same and sorted(local) == sorted(remote)
            per_candidate = statistics.median(replay_times)
            replay_total = per_candidate * candidates
            local_total = fetch_s + sweep_s
            totals["local"] += local_total
            totals["replay"] += replay_total
            distinct = len(set(grid_spec.thresholds)) or 1
            totals["replay_thresholds"] += per_candidate * distinct + (sweep_s)
            print(
                f"{name:28} {grid.count:8,} {len(signal.series):6} {fetch_s:6.2f}s "
                f"{machine_s * 1000:6.1f}ms {sweep_s:8.2f}s {per_candidate:10.2f}s "
                f"{replay_total:9.0f}s {replay_total / local_total:6.0f}x {'yes' if same else 'NO':>5}"
            )
        print(
            f"\nfour rules, {candidates:,} candidates each: one fetch + local sweep "
            f"{totals['local']:.1f} s vs one Prometheus replay per candidate "
            f"{totals['replay']:.0f} s (extrapolated) → {totals['replay'] / totals['local']:.0f}x"
        )
        print(
            "a smarter alternative (one replay per distinct threshold, for/keep applied locally): "
            f"{totals['replay_thresholds']:.0f} s → "
            f"{totals['replay_thresholds'] / totals['local']:.1f}x"
        )


if __name__ == "__main__":
    main()
