"""The 30-day dashboard at 1-minute resolution on the sandbox, and histogram_quantile vs Prometheus.

Prints ratios; not a test. Uses the running sandbox (started if needed, stopped after).
    .venv/bin/python bench/bench_dashboard.py
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from sreworkbook import sandbox
    from sreworkbook.config import load_environment
    from sreworkbook.dashboard import PrometheusBackend, load_dashboard, resolve_window
    from sreworkbook.dashboard.quantile import histogram_quantile
    from sreworkbook.sources.prometheus import PrometheusSource

    env = load_environment("sandbox", root=ROOT)
    was_running = all(c.status == "running" for c in sandbox.status(env, root=ROOT).components)
    sandbox.up(env, root=ROOT)
    try:
        assert env.prometheus is not None
        source = PrometheusSource(env.prometheus.url, timeout_s=60)
        backend = PrometheusBackend(source, job=env.prometheus.job)
        now = datetime.now(UTC) - timedelta(minutes=5)
        span = resolve_window(start="", end="", window="30d", step="1m", now=now)
        started = time.perf_counter()
        data = load_dashboard(backend, span, slos=env.slos)
        parallel = time.perf_counter() - started
        points = sum(len(frame) for frame in data.panels.values())
        print(
            f"30-day dashboard, 1-minute steps: {parallel:.1f} s as the notebook runs it "
            f"(6 threads), {source.requests_made} requests, {points:,} points"
        )
        # One thread, so that waiting and processing add up to the wall time.
        sequential = PrometheusSource(env.prometheus.url, timeout_s=60)
        one = PrometheusBackend(sequential, job=env.prometheus.job)
        started = time.perf_counter()
        load_dashboard(one, span, slos=env.slos, workers=1)
        total = time.perf_counter() - started
        waiting = sequential.seconds_waiting
        print(
            f"  on one thread: {total:.1f} s, of which waiting on Prometheus {waiting:.1f} s; "
            f"our own processing {(total - waiting) / total:.0%} (goal ≤ 25 %)"
        )

        # Percentiles: Prometheus's histogram_quantile against ours on the same buckets.
        selector = f'http_request_duration_seconds_bucket{{job="{env.prometheus.job}"}}'
        buckets = source.query(f"sum by (le) (increase({selector}[1d]))", at=now)
        pairs = [(float(r.le), float(r.value)) for r in buckets.itertuples()]
        worst, ours_s, theirs_s = 0.0, 0.0, 0.0
        for q in (0.5, 0.9, 0.95, 0.99, 0.999):
            t0 = time.perf_counter()
            theirs = source.query(
                f"histogram_quantile({q}, sum by (le) (increase({selector}[1d])))", at=now
            )["value"].iloc[0]
            theirs_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(1000):
                ours = histogram_quantile(q, pairs)
            ours_s += (time.perf_counter() - t0) / 1000
            worst = max(worst, abs(ours - theirs) / theirs)
        print(
            f"histogram_quantile, 5 quantiles over the same buckets: worst relative error "
            f"{worst:.2e} (goal < 1e-9)"
        )
        print(
            f"  time: Prometheus round trip {theirs_s / 5 * 1000:.1f} ms, ours "
            f"{ours_s / 5 * 1e6:.1f} µs per quantile → {theirs_s / ours_s:,.0f}x"
        )
    finally:
        if not was_running:
            sandbox.down(env, root=ROOT)


if __name__ == "__main__":
    main()
