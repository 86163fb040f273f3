"""A synthetic run ledger: a year of five scheduled jobs, for the index's tests and benchmark.

Deterministic for a seed. Runs look like the real notebooks' ledger lines (metrics by name,
findings, masked parameters of a few KB), with incidents that turn days WARN or CRIT, a
few notebook failures and whole-run timeouts (ERROR, no report), as a real year has.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from sreworkbook.results import Finding, RunSummary, Status

__all__ = ["SAMPLE_JOBS", "SampleJob", "sample_runs", "write_sample_ledger"]

Metrics = Callable[[random.Random, float], dict[str, float]]


@dataclass(frozen=True)
class SampleJob:
    """A generated job: notebook, env, how often it runs, its typical metrics."""

    notebook: str
    env: str
    every: timedelta
    offset: timedelta
    metrics: Metrics
    duration_s: float


def _health(rng: random.Random, load: float) -> dict[str, float]:
    return {
        "checks": 9.0,
        "p95_ms": round(140 + 60 * load + rng.gauss(0, 12), 1),
        "error_rate": max(0.0, 0.0004 + 0.02 * load * load + rng.gauss(0, 0.0002)),
    }


def _dashboard(rng: random.Random, load: float) -> dict[str, float]:
    return {
        "availability": min(1.0, 0.9996 - 0.004 * load * load + rng.gauss(0, 0.0001)),
        "p95_ms": round(520 + 900 * load * load + rng.gauss(0, 30), 1),
        "error_rate": max(0.0, 0.0004 + 0.004 * load * load),
        "rpm": round(450 + rng.gauss(0, 20), 1),
    }


def _drill(rng: random.Random, load: float) -> dict[str, float]:
    return {
        "backup_age_h": round(1.0 + 23 * load + rng.uniform(0, 0.5), 2),
        "rto_s": round(120 + 400 * load + rng.gauss(0, 8), 1),
        "restored_docs": 5000.0,
    }


def _tuning(rng: random.Random, load: float) -> dict[str, float]:
    return {
        "pages_per_week_before": float(rng.randint(9, 16)),
        "pages_per_week_after": float(max(1, round(4 + 6 * load + rng.gauss(0, 1)))),
    }


def _digest(rng: random.Random, load: float) -> dict[str, float]:
    return {"incidents": float(round(3 * load + rng.random()))}


SAMPLE_JOBS: tuple[SampleJob, ...] = (
    SampleJob("health_inspection", "production", timedelta(minutes=45), timedelta(), _health, 20),
    SampleJob(
        "metrics_dashboard", "production", timedelta(days=1), timedelta(hours=6), _dashboard, 40
    ),
    SampleJob(
        "incident_explorer", "production", timedelta(days=1), timedelta(hours=6), _digest, 60
    ),
    SampleJob(
        "backup_restore_drill", "production", timedelta(days=1), timedelta(hours=3), _drill, 300
    ),
    SampleJob("alert_tuning", "production", timedelta(days=7), timedelta(hours=7), _tuning, 200),
)

_ENVIRONMENT = {
    "name": "production",
    "service": {"base_url": "https://api.tradeai.example", "timeout_s": 5.0},
    "mongodb": {"uri": "mongodb://***:***@mongo-0.internal:27017/tradeai", "timeout_s": 5.0},
    "redis": {"url": "redis://***@redis.internal:6379/0"},
    "prometheus": {"url": "https://prometheus.internal", "token": "***"},
    "backups": {"s3": {"bucket": "tradeai-backups", "prefix": "mongodb/", "region": "eu-west-1"}},
    "slos": [
        {"name": "availability", "kind": "availability", "objective": 0.999},
        {"name": "latency", "kind": "latency", "objective": 0.95, "threshold_s": 2.0},
    ],
    "alerts": {"error_rate": 0.05, "p95_s": 2.0, "memory_pct": 90, "for": "5m"},
    "notes": "x" * 900,  # real masked environments run to a few KB
}


def _load(moment: datetime, incidents: list[tuple[datetime, datetime, float]]) -> float:
    """0 (quiet) … 1 (a bad incident) at ``moment``."""
    for start, end, depth in incidents:
        if start <= moment < end:
            return depth
    return max(0.0, 0.08 * math.sin(moment.timestamp() / 43_200))


def _status(load: float, rng: random.Random) -> tuple[Status, tuple[Finding, ...]]:
    if load > 0.7:
        return Status.CRIT, (
            Finding(Status.CRIT, "error rate above 5 % for 5 min", "alert would fire"),
            Finding(Status.CRIT, "mongodb: ping", "no answer in 5 s"),
        )
    if load > 0.3:
        return Status.WARN, (Finding(Status.WARN, "p95 latency above 1.5 s", "close to 2 s"),)
    if rng.random() < 0.01:
        return Status.UNKNOWN, (Finding(Status.UNKNOWN, "prometheus: no data", "scrape gap"),)
    return Status.OK, ()


def sample_runs(
    *,
    now: datetime,
    days: int = 365,
    seed: int = 7,
    jobs: tuple[SampleJob, ...] = SAMPLE_JOBS,
) -> Iterator[RunSummary]:
    """Every run of ``jobs`` over the ``days`` before ``now``, in the order they finished."""
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    incidents = []
    for _ in range(days // 9):
        at = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        incidents.append((at, at + timedelta(hours=rng.uniform(1, 30)), rng.uniform(0.35, 1.0)))
    runs: list[tuple[datetime, RunSummary]] = []
    for job in jobs:
        moment = start + job.offset
        while moment < now:
            runs.append((moment, _run(job, moment, rng, incidents)))
            moment += job.every
    runs.sort(key=lambda item: item[0])
    for _, run in runs:
        yield run


def _run(
    job: SampleJob,
    started: datetime,
    rng: random.Random,
    incidents: list[tuple[datetime, datetime, float]],
) -> RunSummary:
    load = _load(started, incidents)
    status, findings = _status(load, rng)
    took = job.duration_s * rng.uniform(0.8, 1.3)
    iso = started.isoformat()[:19]  # 2026-11-20T06:45:00 (strftime is slow at this scale)
    stamp = iso.replace("-", "").replace(":", "")
    stem = f"{stamp}Z-{job.notebook}-{job.env}-{rng.getrandbits(24):06x}"
    report = f"runs/{iso[:10]}/{stem}/report.html"
    headline = (
        f"{job.notebook.replace('_', ' ')}: {status.value.lower()} ({len(findings)} findings)"
    )
    roll = rng.random()
    if roll < 0.003:  # killed by the whole-run timeout: no report
        status, report, took = Status.ERROR, "", 900.0
        headline = "timed out after 900 s"
        findings = (Finding(Status.ERROR, "Run timed out", "its processes were killed"),)
        stem = stem.replace(job.env, f"{job.env}-timeout")
    elif roll < 0.006:
        status, headline = Status.ERROR, "The notebook failed at cell 7: SourceError: refused"
        findings = (Finding(Status.ERROR, "Notebook failed", "SourceError: refused"),)
    finished = started + timedelta(seconds=took)
    return RunSummary(
        status=status,
        headline=headline,
        metrics=job.metrics(rng, load) if status is not Status.ERROR else {},
        findings=findings,
        notebook=job.notebook,
        env=job.env,
        run_id=stem,
        started_at=f"{iso}Z",
        finished_at=f"{finished.astimezone(UTC).isoformat()[:19]}Z",
        duration_s=took,
        parameters={"env": job.env, "window": "24h", "environment": _ENVIRONMENT},
        report=report,
    )


def write_sample_ledger(path: Path, *, now: datetime, days: int = 365, seed: int = 7) -> int:
    """Write :func:`sample_runs` as a ledger at ``path``; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as handle:
        for run in sample_runs(now=now, days=days, seed=seed):
            handle.write(msgspec.json.encode(run.to_dict()) + b"\n")
            count += 1
    return count
