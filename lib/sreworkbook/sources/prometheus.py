"""The Prometheus HTTP API (also Thanos, Mimir, VictoriaMetrics) into tidy pandas frames.

Only the documented ``/api/v1/query`` and ``/api/v1/query_range`` endpoints are used, so any
Prometheus-compatible store works unchanged. Range queries longer than the server's
11,000-points-per-series cap are split into chunks aligned on the step, so the timestamps are
exactly those of one unchunked query. Calls go through the HTTP edge
(:class:`~sreworkbook.edges.http.HttpEdge`): connection errors, timeouts, 429 and 5xx are
retried with backoff, ``Retry-After`` is honoured up to 60 s, and once a full call's worth of
attempts in a row has failed, later queries fail at once instead of each waiting through the
same retries (a dashboard sends dozens). A query Prometheus rejects is reported at once.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import requests

from sreworkbook.config import PrometheusConfig
from sreworkbook.edges.http import Auth, HttpEdge, Reply, unparseable
from sreworkbook.edges.retry import Breaker, Deadline, RetryPolicy
from sreworkbook.exceptions import SourceError
from sreworkbook.timeutil import epoch

__all__ = ["MAX_POINTS", "PrometheusSource", "frame_from_result"]

MAX_POINTS = 11_000


def frame_from_result(result: list[dict[str, Any]]) -> pd.DataFrame:
    """A tidy frame (``timestamp``, ``value``, one column per label) from an API result."""
    rows: list[dict[str, Any]] = []
    for series in result:
        labels: dict[str, Any] = dict(series.get("metric", {}))
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        for ts, value in points:
            rows.append({**labels, "timestamp": float(ts), "value": float(value)})
    if not rows:
        return pd.DataFrame(
            {
                "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
                "value": pd.Series([], dtype="float64"),
            }
        )
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    names = sorted(str(c) for c in frame.columns if c not in ("timestamp", "value"))
    return frame[["timestamp", *names, "value"]]


class PrometheusSource:
    """A client for one Prometheus-compatible server."""

    name = "prometheus"

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        timeout_s: float = 10.0,
        bearer_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_points: int = MAX_POINTS,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        policy: RetryPolicy | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_points = max_points
        policy = policy or RetryPolicy(timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        self.edge = HttpEdge(
            self.name,
            session=session or requests.Session(),
            policy=policy,
            auth=Auth(bearer_token=bearer_token, username=username, password=password),
            breaker=breaker or Breaker(threshold=policy.attempts),
            accept=_not_api_answer,
            sleep=sleep,
            draw=draw,
        )

    @property
    def session(self) -> requests.Session | None:
        return self.edge.session

    @property
    def requests_made(self) -> int:
        return self.edge.requests_made

    @property
    def seconds_waiting(self) -> float:
        return self.edge.seconds_waiting

    @classmethod
    def from_config(
        cls,
        config: PrometheusConfig,
        environ: Mapping[str, str],
        *,
        session: requests.Session | None = None,
        retries: int = 3,
        breaker: Breaker | None = None,
    ) -> PrometheusSource:
        """A client for ``config``, its credentials resolved from ``environ`` now; ``breaker``
        shared with the run's other clients, else its own."""
        from sreworkbook.secrets import resolve

        def secret(value: str | None, key: str) -> str | None:
            return resolve(value, environ, key=f"prometheus.{key}") if value else None

        return cls(
            resolve(config.url, environ, key="prometheus.url"),
            session=session,
            timeout_s=config.timeout_s,
            bearer_token=secret(config.bearer_token, "bearer_token"),
            username=secret(config.username, "username"),
            password=secret(config.password, "password"),
            retries=retries,
            breaker=breaker,
        )

    # -- public API -------------------------------------------------------------------------
    def query(
        self, expr: str, at: datetime | float | None = None, *, deadline: Deadline | None = None
    ) -> pd.DataFrame:
        """An instant query: one row per series."""
        params: dict[str, str] = {"query": expr}
        if at is not None:
            params["time"] = f"{epoch(at):.3f}"
        data = self._get("/api/v1/query", params, expr, deadline)
        result = data.get("result", [])
        if data.get("resultType") == "scalar":
            result = [{"metric": {}, "value": result}]
        return frame_from_result(result)

    def query_range(
        self,
        expr: str,
        start: datetime | float,
        end: datetime | float,
        step_s: float,
        *,
        deadline: Deadline | None = None,
    ) -> pd.DataFrame:
        """A range query, chunked transparently under the points-per-series cap."""
        if step_s <= 0:
            raise ValueError("step must be positive")
        first, last = epoch(start), epoch(end)
        frames = []
        for chunk_start, chunk_end in self.chunks(first, last, step_s):
            params = {
                "query": expr,
                "start": f"{chunk_start:.3f}",
                "end": f"{chunk_end:.3f}",
                "step": f"{step_s:.3f}".rstrip("0").rstrip("."),
            }
            data = self._get("/api/v1/query_range", params, expr, deadline)
            frames.append(frame_from_result(data.get("result", [])))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return frame_from_result([])
        if len(frames) == 1:
            return frames[0]
        frame = pd.concat(frames, ignore_index=True)
        labels = sorted(c for c in frame.columns if c not in ("timestamp", "value"))
        frame = frame.drop_duplicates(subset=["timestamp", *labels], keep="first")
        return frame[["timestamp", *labels, "value"]].reset_index(drop=True)

    def chunks(self, start: float, end: float, step_s: float) -> list[tuple[float, float]]:
        """``[start, end]`` cut into spans of at most ``max_points`` evaluations each."""
        if end < start:
            return []
        total = math.floor((end - start) / step_s + 1e-9) + 1
        spans = []
        for first_index in range(0, total, self.max_points):
            last_index = min(first_index + self.max_points, total) - 1
            spans.append((start + first_index * step_s, start + last_index * step_s))
        return spans

    # -- transport --------------------------------------------------------------------------
    def _get(
        self, path: str, params: dict[str, str], expr: str, deadline: Deadline | None
    ) -> dict[str, Any]:
        reply = self.edge.get(self.url + path, params=params, query=expr, deadline=deadline)
        return self._payload(reply, expr)

    def _payload(self, reply: Reply, expr: str) -> dict[str, Any]:
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            problem = _not_api_answer(reply) or f"HTTP {reply.status}: not a Prometheus answer"
            raise SourceError(problem, source=self.name, query=expr, status=reply.status)
        if reply.status != 200 or body.get("status") != "success":
            raise SourceError(
                f"{body.get('errorType', 'error')}: {body.get('error', reply.reason)}",
                source=self.name,
                query=expr,
                status=reply.status,
            )
        data = body.get("data", {})
        return data if isinstance(data, dict) else {}


def _not_api_answer(reply: Reply) -> str | None:
    """What is wrong with an answer that is not the API's JSON object, or ``None``."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return None
    return f"HTTP {reply.status} with {unparseable(reply.body, reply.content_type)}"
