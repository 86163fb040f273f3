"""Simulated live traffic for the demo API: about ten requests a second across the routes,
recorded in the metrics and written as Winston log lines, as if the API had served them.

Lines are written at the moment they happen (a request's "Request completed" line only when
its duration has passed), so the log files stay in time order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sreworkbook.sandbox.api_metrics import ApiMetrics
from sreworkbook.sandbox.fault import FaultState
from sreworkbook.sandbox.model import (
    BASE_ERROR_RATIO,
    BASE_RPS,
    DB_OPS,
    PAGES,
    ROUTES,
    Route,
    load_factor,
)
from sreworkbook.sandbox.winston import DailyLog, format_duration

__all__ = ["TrafficSimulator", "node_stack", "simulated_memory_pct"]

_TICK_S = 0.1
_GAUGE_EVERY_S = 5.0


def node_stack(message: str, *frames: str) -> str:
    """A Node.js-style stack trace for ``message``."""
    where = frames or ("Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",)
    return "Error: " + message + "".join(f"\n    at {f}" for f in where)


def simulated_memory_pct(epoch_s: float, load: float) -> float:
    """The memory gauge's normal value: the history's baseline, without noise."""
    return 57 + 4 * load + 1.5 * math.sin(epoch_s / 5_400)


class TrafficSimulator(threading.Thread):
    """Background thread generating requests until :meth:`stop`.

    ``fault`` returns the current fault state; ``health`` the last real ping result per
    component; ``user_ids`` the ids to put in log lines (synthetic ones while it is empty).
    """

    def __init__(
        self,
        *,
        metrics: ApiMetrics,
        log: DailyLog,
        fault: Callable[[], FaultState],
        health: Callable[[], Mapping[str, bool]],
        user_ids: Callable[[], Sequence[str]],
        rps: float = BASE_RPS,
        seed: int | None = None,
    ) -> None:
        super().__init__(name="traffic", daemon=True)
        self.metrics = metrics
        self.log = log
        self.fault = fault
        self.health = health
        self.user_ids = user_ids
        self._fallback_ids = [f"{i:024x}" for i in range(1, 51)]
        self.rps = rps
        self.rng = random.Random(seed)
        self._halt = threading.Event()
        self._pending: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.cpu_pct = 30.0
        self.memory_pct = 60.0

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        next_gauges = 0.0
        while not self._halt.wait(_TICK_S):
            now = time.time()
            load = load_factor(now)
            while self._pending and self._pending[0][0] <= now:
                heapq.heappop(self._pending)[2]()
            for _ in range(self._poisson(self.rps * load * _TICK_S)):
                self._request(now, load)
            for _ in range(self._poisson(0.15 * self.rps * load * _TICK_S)):
                self._page_view(load)
            if now >= next_gauges:
                self._gauges(now, load)
                next_gauges = now + _GAUGE_EVERY_S

    def _poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _later(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._pending, (when, next(self._order), action))

    def _gauges(self, now: float, load: float) -> None:
        fault = self.fault()
        base = simulated_memory_pct(now, load) + self.rng.gauss(0, 0.6)
        self.memory_pct = fault.memory_pct if fault.memory_pct is not None else base
        self.cpu_pct = min(100.0, max(1.0, 12 + 38 * load + self.rng.gauss(0, 2.5)))
        self.metrics.memory.set(round(self.memory_pct, 2))
        self.metrics.cpu.set(round(self.cpu_pct, 2))
        self.metrics.active_users.set(max(0, round(180 * load + self.rng.gauss(0, 6))))

    def _page_view(self, load: float) -> None:
        page = self.rng.choice(PAGES)
        slow = 1 + self.fault().latency_ms / 1000
        self.metrics.lcp.labels(page=page).observe(
            self.rng.lognormvariate(math.log(1.5 * slow * (1 + 0.1 * load)), 0.45)
        )
        self.metrics.inp.labels(page=page).observe(self.rng.lognormvariate(math.log(0.11), 0.6))
        self.metrics.cls.labels(page=page).observe(self.rng.lognormvariate(math.log(0.035), 0.9))

    def _request(self, now: float, load: float) -> None:
        route = self.rng.choices(ROUTES, weights=[r.share for r in ROUTES])[0]
        fault = self.fault()
        health = self.health()
        mongo_up = health.get("mongodb", False) and not fault.is_down("mongodb")
        ai_up = health.get("ai", False) and not fault.is_down("ai")
        duration = self.rng.lognormvariate(
            math.log(route.median_s * (1 + 0.25 * load)), route.sigma
        )
        duration += fault.latency_ms / 1000
        error: tuple[str, str] | None = None
        if route.db and not mongo_up:
            error = (
                "MongoServerSelectionError: connect ECONNREFUSED",
                "Connection.connect (/app/node_modules/mongodb/lib/cmap/connect.js:412:11)",
            )
        elif route.uses_ai and not ai_up:
            error = (
                "AI service unavailable: connect ECONNREFUSED",
                "AIClient.forecast (/app/src/services/aiClient.js:57:13)",
            )
        elif self.rng.random() < max(fault.error_ratio, BASE_ERROR_RATIO):
            error = (
                "Cannot read properties of undefined (reading 'id')",
                "TradeService.enrich (/app/src/services/tradeService.js:88:31)",
            )
        correlation = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        user = self.rng.choice(self.user_ids() or self._fallback_ids)
        started = datetime.fromtimestamp(now, UTC)
        meta: dict[str, Any] = {
            "correlationId": correlation,
            "method": route.method,
            "url": route.path,
            "userId": user,
        }
        self.log.write(
            "info",
            "Incoming request",
            when=started,
            ip=f"10.0.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
            **meta,
        )
        step_at = now + duration * 0.4
        self._later(step_at, lambda: self._step(route, meta, error, mongo_up, step_at))
        self._later(now + duration, lambda: self._complete(route, meta, error, duration, started))

    def _step(
        self,
        route: Route,
        meta: dict[str, Any],
        error: tuple[str, str] | None,
        mongo_up: bool,
        at: float,
    ) -> None:
        when = datetime.fromtimestamp(at, UTC)
        if route.db and not mongo_up:
            self.metrics.db_failures.inc()
        else:
            for op_index, per_request in route.db:
                op = DB_OPS[op_index]
                for _ in range(int(per_request) + (self.rng.random() < per_request % 1)):
                    seconds = self.rng.lognormvariate(math.log(op.median_s), op.sigma)
                    self.metrics.db.labels(
                        operation=op.operation, collection=op.collection
                    ).observe(seconds)
        if error is not None:
            message, frame = error
            stack = node_stack(message, frame)
            self.log.write("error", message, when=when, stack=stack, **meta)
        elif route.uses_ai:
            model = "tradeai-forecast-v3"
            self.log.write("info", "AI forecast generated", when=when, model=model, **meta)
        elif route.db:
            op = DB_OPS[route.db[0][0]]
            self.log.write(
                "info",
                "Database query executed",
                when=when,
                operation=op.operation,
                collection=op.collection,
                **meta,
            )

    def _complete(
        self,
        route: Route,
        meta: dict[str, Any],
        error: tuple[str, str] | None,
        duration: float,
        started: datetime,
    ) -> None:
        status = "500" if error else "200"
        self.metrics.http.labels(method=route.method, route=route.path, status_code=status).observe(
            duration
        )
        level = "error" if error else "info"
        extra = {"stack": node_stack(error[0], error[1])} if error else {}
        when = started + timedelta(seconds=duration)
        self.log.write(
            level,
            "Request completed",
            when=when,
            statusCode=int(status),
            duration=format_duration(duration),
            **meta,
            **extra,
        )
