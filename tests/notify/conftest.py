"""Shared by the notifier tests: a run summary, its message, the local Slack receiver and SMTP
sink, and a retry policy without waits or jitter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sreworkbook.notify import Notification, RetryPolicy
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.sandbox.receivers import SlackReceiver, SMTPSink

SECRET_PATH = "/services/T0SRE/B0WORK/s3cr3tT0kenXYZ"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01"
REPORT_URL = "https://reports.example.com/runs/2024-05-01/20240501T0600-ab12/report.html"


class Sleeps(list[float]):
    """An injectable ``sleep`` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def summary(status: Status = Status.CRIT, **changes: Any) -> RunSummary:
    base: dict[str, Any] = {
        "status": status,
        "headline": "Error rate 7.2 % over 5 min on /api/trades",
        "metrics": {"error_rate": 0.0724, "p95_ms": 2412.5, "requests": 182_340.0},
        "findings": (
            Finding(Status.WARN, "p95 latency above 2 s", "2.41 s for 12 min"),
            Finding(Status.CRIT, "Error rate above 5 %", "7.2 % for 9 min"),
            Finding(Status.OK, "Memory normal"),
        ),
        "notebook": "health_inspection",
        "env": "prod",
        "run_id": "20240501T0600-ab12",
        "finished_at": "2024-05-01T06:01:12+00:00",
        "parameters": {"mongodb_uri": "mongodb://app:***@db/tradeai"},
        "report": "runs/2024-05-01/20240501T0600-ab12/report.html",
    }
    base.update(changes)
    return RunSummary(**base)


REPORT_URL = "https://reports.example.com/runs/2024-05-01/20240501T0600-ab12/report.html"


@pytest.fixture
def message() -> Notification:
    return Notification.from_summary(summary(), REPORT_URL)


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def sink() -> Iterator[SMTPSink]:
    with SMTPSink() as server:
        yield server


def fast(retries: int = 3) -> RetryPolicy:
    """Short timeouts, waits of 1 s, 2 s, 4 s (recorded, not waited), no jitter."""
    return RetryPolicy(timeout_s=2.0, retries=retries, backoff_s=1.0, jitter=0.0)
