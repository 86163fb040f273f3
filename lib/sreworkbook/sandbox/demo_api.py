"""The demo "TradeAI backend": health endpoints, ``/metrics``, a few API routes, simulated
traffic with Winston logs, and the fault switch.

Run as ``python -m sreworkbook.sandbox.demo_api --settings FILE`` (the sandbox writes FILE
from the environment); it binds 127.0.0.1 only. The routes live in
:mod:`sreworkbook.sandbox.api_routes`.
"""

from __future__ import annotations

import argparse
import random
import signal
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pymongo.errors

from sreworkbook.sandbox.api_health import Dependencies
from sreworkbook.sandbox.api_metrics import ApiMetrics, build_metrics
from sreworkbook.sandbox.api_routes import Request, Response, Router
from sreworkbook.sandbox.api_settings import ApiSettings
from sreworkbook.sandbox.fault import FAULT_PATH, FaultState
from sreworkbook.sandbox.model import API_VERSION, COMPONENTS
from sreworkbook.sandbox.traffic import TrafficSimulator
from sreworkbook.sandbox.winston import DailyLog

__all__ = ["DemoApp", "main"]

_POLL_S = 5.0


class DemoApp:
    """The API's state: metrics, dependencies, fault switch, health poller and simulator."""

    def __init__(
        self, settings: ApiSettings, *, metrics: ApiMetrics | None = None, seed: int | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics or build_metrics()
        self.deps = Dependencies(
            mongo=settings.mongo,
            database=settings.database,
            redis_at=settings.redis,
            ai_url=settings.ai_url,
        )
        self.log = DailyLog(Path(settings.log_dir))
        self.rng = random.Random(seed)
        self.started_mono = time.monotonic()
        self.started = threading.Event()
        self._lock = threading.Lock()
        self._fault = FaultState()
        self._health: dict[str, bool] = {}
        self._user_ids: list[str] = []
        self._stop = threading.Event()
        self.simulator = TrafficSimulator(
            metrics=self.metrics,
            log=self.log,
            fault=self.fault,
            health=self.health,
            user_ids=lambda: self._user_ids,
            rps=settings.rps,
            seed=seed,
        )
        self.router = Router(self)

    # -- shared state ---------------------------------------------------------------------
    def fault(self) -> FaultState:
        with self._lock:
            return self._fault

    def set_fault(self, fault: FaultState) -> None:
        with self._lock:
            self._fault = fault
            health = dict(self._health)
        self._publish_health(health, fault)

    def health(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._health)

    def user_ids(self) -> list[str]:
        return self._user_ids

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_mono

    @staticmethod
    def now_iso() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- background work ------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._poll, name="health-poller", daemon=True).start()
        self.simulator.start()

    def stop(self) -> None:
        self._stop.set()
        self.simulator.stop()
        self.deps.close()
        self.log.close()

    def _poll(self) -> None:
        while True:
            checks = self.deps.checks(COMPONENTS, FaultState())
            health = {c: check.healthy for c, check in checks.items()}
            with self._lock:
                self._health = health
                fault = self._fault
            self._publish_health(health, fault)
            if health.get("mongodb") and not self._user_ids:
                self._load_user_ids()
            self.started.set()
            if self._stop.wait(_POLL_S):
                return

    def _publish_health(self, health: dict[str, bool], fault: FaultState) -> None:
        for component in COMPONENTS:
            self.metrics.set_component(
                component, health.get(component, False) and not fault.is_down(component)
            )

    def _load_user_ids(self) -> None:
        if self.deps.mongo is None:
            return
        try:
            users = self.deps.mongo[self.settings.database]["users"].find({}, {"_id": 1}).limit(200)
            self._user_ids = [str(doc["_id"]) for doc in users]
        except pymongo.errors.PyMongoError:  # the poller tries again on its next round
            self._user_ids = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "tradeai-backend/" + API_VERSION

    def log_message(self, format: str, *args: Any) -> None:  # the app writes Winston lines
        return

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}, body
        )
        app = self.server.app
        if parts.path != FAULT_PATH:
            latency = app.fault().latency_ms
            if latency > 0:
                time.sleep(latency / 1000)
        response = app.router.dispatch(request)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, app: DemoApp) -> None:
        self.app = app
        super().__init__(("127.0.0.1", port), _Handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sreworkbook.sandbox.demo_api``."""
    from prometheus_client import disable_created_metrics

    parser = argparse.ArgumentParser(description="The sandbox's demo TradeAI backend.")
    parser.add_argument("--settings", type=Path, required=True, help="JSON written by the sandbox")
    args = parser.parse_args(argv)
    disable_created_metrics()  # type: ignore[no-untyped-call] # the Node client has no *_created series either
    settings = ApiSettings.read(args.settings)
    app = DemoApp(settings)
    server = _Server(settings.port, app)
    app.start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        app.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
