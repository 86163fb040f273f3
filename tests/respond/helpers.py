"""Webhook bodies as Alertmanager sends them, and a responder wired to fakes for unit tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sreworkbook.config import Environment, NotificationsConfig
from sreworkbook.notify import Delivery, Notification
from sreworkbook.respond import Executor, Journal, Responder, RunResult, WebhookServer
from sreworkbook.results import Status

TOKEN = "s3cr3t-responder-token"


def body(
    group: str = '{}:{alertname="HighErrorRate"}',
    status: str = "firing",
    *,
    alertname: str = "HighErrorRate",
    labels: Mapping[str, Any] | None = None,
    starts: str = "2026-12-07T01:00:00.123456789Z",
    ends: str = "0001-01-01T00:00:00Z",
    version: str = "4",
    alerts: int = 1,
) -> dict[str, Any]:
    shown = {"alertname": alertname, "severity": "critical", "job": "tradeai-backend"}
    shown.update(labels or {})
    return {
        "version": version,
        "groupKey": group,
        "status": status,
        "receiver": "responder",
        "groupLabels": {"alertname": alertname},
        "commonLabels": shown,
        "commonAnnotations": {"summary": "5xx above 5 %"},
        "externalURL": "http://alertmanager.local",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": {**shown, "instance": f"10.0.0.{i}:3000"} if alerts > 1 else shown,
                "annotations": {"summary": "5xx above 5 %"},
                "startsAt": starts,
                "endsAt": ends,
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": f"{i:016x}",
            }
            for i in range(alerts)
        ],
    }


def encoded(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data).encode()


@dataclass
class Fakes:
    """A runner and a sender that record what they were asked; the runner may be held."""

    runs: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    sent: list[tuple[NotificationsConfig, Notification]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    def run(self, notebook: str, parameters: Mapping[str, str]) -> RunResult:
        self.gate.wait(30)
        with self.lock:
            self.runs.append((notebook, dict(parameters)))
            number = len(self.runs)
        return RunResult(notebook, Status.CRIT, f"run {number}", f"http://out/r{number}.html")

    def send(self, section: NotificationsConfig, message: Notification) -> Sequence[Delivery]:
        with self.lock:
            self.sent.append((section, message))
        return (Delivery("slack", True, 1, 200),)


def environment(**responder: Any) -> Environment:
    config = {
        "token": "${RESPONDER_TOKEN}",
        "runbooks": {"HighErrorRate": {"notebook": "high_error_rate"}},
        "dedup_window_s": 300,
        **responder,
    }
    return Environment.model_validate(
        {
            "name": "unit",
            "notifications": {"slack": {"webhook_url": "http://127.0.0.1:9/hook"}},
            "responder": config,
        }
    )


def make_responder(
    journal: Path, fakes: Fakes, *, clock: Any = None, **responder: Any
) -> Responder:
    env = environment(**responder)
    assert env.responder is not None
    executor = Executor(env, env.responder, runner=fakes.run, sender=fakes.send)
    extra = {"clock": clock} if clock is not None else {}
    return Responder(executor, Journal(journal), **extra)


@contextmanager
def serving(responder: Responder) -> Iterator[WebhookServer]:
    server = WebhookServer(("127.0.0.1", 0), responder, lambda: TOKEN)
    responder.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        responder.stop(1.0)
