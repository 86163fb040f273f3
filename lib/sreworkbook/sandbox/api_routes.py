"""The demo API's routes: health endpoints, ``/metrics``, the fault switch and a few real
``/api`` routes that query the sandbox's MongoDB and AI service.

Every request is timed into ``http_request_duration_seconds`` and logged as Winston lines
sharing one correlation ID; ``/metrics`` and the fault switch are not.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pymongo.errors
from bson import ObjectId
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sreworkbook.exceptions import ParameterError
from sreworkbook.sandbox.api_health import detailed_status
from sreworkbook.sandbox.fault import FAULT_PATH, FaultState
from sreworkbook.sandbox.model import API_VERSION
from sreworkbook.sandbox.traffic import node_stack
from sreworkbook.sandbox.winston import format_duration, iso_ms

if TYPE_CHECKING:
    from sreworkbook.sandbox.demo_api import DemoApp

__all__ = ["Request", "Response", "Router"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


class _Failure(Exception):
    """A request that ends in an error status, with the message and stack to log."""

    def __init__(self, status: int, message: str, frame: str) -> None:
        super().__init__(message)
        self.status = status
        self.frame = frame


def _json_default(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso_ms(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, default=_json_default).encode())


_Handler = Callable[[Request, dict[str, Any]], Response]


class Router:
    """Maps (method, path) to a handler of the app."""

    def __init__(self, app: DemoApp) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], _Handler] = {
            ("GET", "/health"): self.health,
            ("GET", "/health/detailed"): self.detailed,
            ("GET", "/health/live"): self.live,
            ("GET", "/health/ready"): self.ready,
            ("GET", "/health/startup"): self.startup,
            ("GET", "/api/trades"): self.trades,
            ("GET", "/api/customers"): self.customers,
            ("GET", "/api/promotions"): self.promotions,
            ("POST", "/api/auth/login"): self.login,
            ("POST", "/api/ai/forecast"): self.forecast,
        }

    def dispatch(self, request: Request) -> Response:
        if request.path == "/metrics" and request.method == "GET":
            return Response(200, generate_latest(self.app.metrics.registry), CONTENT_TYPE_LATEST)
        if request.path == FAULT_PATH:
            return self.fault(request)
        handler = self.routes.get((request.method, request.path))
        route = request.path if handler else "unmatched"
        meta: dict[str, Any] = {
            "correlationId": str(uuid.uuid4()),
            "method": request.method,
            "url": request.path,
        }
        log = self.app.log
        log.write("info", "Incoming request", **meta)
        began = time.perf_counter()
        try:
            if handler is None:
                raise _Failure(404, f"Cannot {request.method} {request.path}", "")
            if (
                request.path.startswith("/api/")
                and self.app.rng.random() < self.app.fault().error_ratio
            ):
                raise _Failure(
                    500,
                    "Injected failure (sandbox fault switch)",
                    "Router.handle (/app/src/middleware/chaos.js:14:11)",
                )
            response = handler(request, meta)
        except _Failure as failure:
            if failure.status >= 500:
                log.write(
                    "error", str(failure), stack=node_stack(str(failure), failure.frame), **meta
                )
            response = _json(
                failure.status, {"error": str(failure), "correlationId": meta["correlationId"]}
            )
        duration = time.perf_counter() - began + self.app.fault().latency_ms / 1000
        self.app.metrics.http.labels(
            method=request.method, route=route, status_code=str(response.status)
        ).observe(duration)
        level = "error" if response.status >= 500 else "warn" if response.status >= 400 else "info"
        log.write(
            level,
            "Request completed",
            statusCode=response.status,
            duration=format_duration(duration),
            **meta,
        )
        return response

    # -- fault switch -----------------------------------------------------------------------
    def fault(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.app.set_fault(FaultState.parse(request.json()))
            except (ParameterError, ValueError) as exc:
                return _json(400, {"error": str(exc)})
        return _json(200, self.app.fault().to_dict())

    # -- health -----------------------------------------------------------------------------
    def health(self, request: Request, meta: dict[str, Any]) -> Response:
        mongo = self.app.deps.checks(("mongodb",), self.app.fault())["mongodb"]
        body: dict[str, Any] = {
            "timestamp": self.app.now_iso(),
            "uptime": round(self.app.uptime_s(), 1),
            "environment": "sandbox",
            "version": API_VERSION,
        }
        if not mongo.healthy:
            return _json(503, {"status": "unhealthy", **body, "error": f"MongoDB: {mongo.error}"})
        return _json(200, {"status": "healthy", **body})

    def detailed(self, request: Request, meta: dict[str, Any]) -> Response:
        checks = self.app.deps.checks(("mongodb", "redis", "ai"), self.app.fault())
        sim = self.app.simulator
        memory = self.app.fault().memory_pct
        status, body = detailed_status(
            checks,
            memory_pct=sim.memory_pct if memory is None else memory,
            cpu_pct=sim.cpu_pct,
            uptime_s=self.app.uptime_s(),
            version=API_VERSION,
            now=self.app.now_iso,
        )
        return _json(status, body)

    def live(self, request: Request, meta: dict[str, Any]) -> Response:
        return _json(200, {"status": "alive", "timestamp": self.app.now_iso()})

    def ready(self, request: Request, meta: dict[str, Any]) -> Response:
        checks = self.app.deps.checks(("mongodb", "redis"), self.app.fault())
        ok = all(c.healthy for c in checks.values())
        body = {
            "status": "ready" if ok else "not ready",
            "checks": {k: v.to_dict() for k, v in checks.items()},
        }
        return _json(200 if ok else 503, body)

    def startup(self, request: Request, meta: dict[str, Any]) -> Response:
        if self.app.started.is_set():
            return _json(200, {"status": "started", "uptime": round(self.app.uptime_s(), 1)})
        return _json(503, {"status": "starting"})

    # -- API --------------------------------------------------------------------------------
    def _db(
        self, meta: dict[str, Any], operation: str, collection: str, run: Callable[[Any], Any]
    ) -> Any:
        app = self.app
        if app.deps.mongo is None or app.fault().is_down("mongodb"):
            app.metrics.db_failures.inc()
            raise _Failure(
                500,
                "MongoServerSelectionError: connect ECONNREFUSED",
                "Connection.connect (/app/node_modules/mongodb/lib/cmap/connect.js:412:11)",
            )
        began = time.perf_counter()
        try:
            result = run(app.deps.mongo[app.settings.database][collection])
        except pymongo.errors.PyMongoError as exc:
            app.metrics.db_failures.inc()
            raise _Failure(
                500,
                f"MongoError: {str(exc)[:120]}",
                f"Collection.{operation} (/app/node_modules/mongodb/lib/collection.js:367:19)",
            ) from exc
        seconds = time.perf_counter() - began
        app.metrics.db.labels(operation=operation, collection=collection).observe(seconds)
        app.log.write(
            "info",
            "Database query executed",
            operation=operation,
            collection=collection,
            duration=format_duration(seconds),
            **meta,
        )
        return result

    def _limit(self, request: Request) -> int:
        try:
            return max(1, min(100, int(request.query.get("limit", "20"))))
        except ValueError:
            return 20

    def trades(self, request: Request, meta: dict[str, Any]) -> Response:
        wanted = {"status": request.query.get("status", "settled")}
        docs = self._db(
            meta, "find", "trades", lambda c: list(c.find(wanted).limit(self._limit(request)))
        )
        return _json(200, {"data": docs, "count": len(docs)})

    def customers(self, request: Request, meta: dict[str, Any]) -> Response:
        wanted = {"tier": request.query["tier"]} if "tier" in request.query else {}
        docs = self._db(
            meta, "find", "customers", lambda c: list(c.find(wanted).limit(self._limit(request)))
        )
        return _json(200, {"data": docs, "count": len(docs)})

    def promotions(self, request: Request, meta: dict[str, Any]) -> Response:
        docs = self._db(
            meta,
            "find",
            "promotions",
            lambda c: list(c.find({"status": "active"}).limit(self._limit(request))),
        )
        return _json(200, {"data": docs, "count": len(docs)})

    def login(self, request: Request, meta: dict[str, Any]) -> Response:
        ids = self.app.user_ids()
        if not ids:
            raise _Failure(
                500,
                "no users loaded yet",
                "AuthService.login (/app/src/services/authService.js:31:9)",
            )
        user_id = ObjectId(self.app.rng.choice(ids))
        user = self._db(
            meta, "findOne", "users", lambda c: c.find_one({"_id": user_id}, {"passwordHash": 0})
        )
        if user is None:
            raise _Failure(401, "Invalid credentials", "")
        meta["userId"] = str(user_id)
        self._db(
            meta,
            "insertOne",
            "audit_logs",
            lambda c: c.insert_one(
                {
                    "action": "user.login",
                    "userId": user_id,
                    "correlationId": meta["correlationId"],
                    "timestamp": datetime.now().astimezone(),
                }
            ),
        )
        return _json(200, {"token": uuid.uuid4().hex, "user": user})

    def forecast(self, request: Request, meta: dict[str, Any]) -> Response:
        try:
            payload = request.json()
        except ValueError:
            return _json(400, {"error": "body must be JSON"})
        if self.app.settings.ai_url is None or self.app.fault().is_down("ai"):
            raise _Failure(
                500,
                "AI service unavailable: connect ECONNREFUSED",
                "AIClient.forecast (/app/src/services/aiClient.js:57:13)",
            )
        recent = self._db(
            meta,
            "find",
            "trades",
            lambda c: list(c.find({"status": "settled"}, {"unitPrice": 1}).limit(5)),
        )
        price = payload.get("price") if isinstance(payload, dict) else None
        body = json.dumps(
            {
                "sku": (payload or {}).get("sku", "SKU-1001"),
                "price": price or (recent[0]["unitPrice"] if recent else 100),
            }
        ).encode()
        call = urllib.request.Request(
            self.app.settings.ai_url + "/predict",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(call, timeout=2) as answer:
                prediction = json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _Failure(
                500,
                f"AI service error: {exc}",
                "AIClient.forecast (/app/src/services/aiClient.js:61:13)",
            ) from exc
        self.app.log.write("info", "AI forecast generated", model=prediction.get("model"), **meta)
        return _json(200, prediction)
