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

import numpy as np
import pandas as pd
import requests

from sreworkbook.config import PrometheusConfig
from sreworkbook.edges.http import Auth, HttpEdge, Reply, unparseable
from sreworkbook.edges.retry import Breaker, Deadline, RetryPolicy
from sreworkbook.exceptions import SourceError
from sreworkbook.sources.range_cache import RangeCache, aligned_pieces
from sreworkbook.timeutil import epoch

__all__ = ["MAX_POINTS", "PrometheusSource", "frame_from_result"]

MAX_POINTS = 11_000


def frame_from_result(result: list[dict[str, Any]]) -> pd.DataFrame:
    """A tidy frame (``timestamp``, ``value``, one column per label) from an API result.

    Built a series at a time with numpy (a 30-day backtest brings 170,000 points a series;
    a dict per point took ten times as long)."""
    parts: list[pd.DataFrame] = []
    for series in result:
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        if not points:
            continue
        pairs = np.asarray(points, dtype=object)
        part = pd.DataFrame(
            {
                "timestamp": pairs[:, 0].astype("float64"),
                "value": pairs[:, 1].astype("float64"),
            }
        )
        for name, value in dict(series.get("metric", {})).items():
            part[str(name)] = value
        parts.append(part)
    if not parts:
        return pd.DataFrame(
            {
                "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
                "value": pd.Series([], dtype="float64"),
            }
        )
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
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
        cache: RangeCache | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.cache = cache
        self._started: str | None = None  # the server's start time, once asked (cache key)
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
        cache: RangeCache | None = None,
    ) -> PrometheusSource:
        """A client for ``config``, its credentials resolved from ``environ`` now; ``breaker``
        shared with the run's other clients, else its own; ``cache`` keeps settled pieces of
        range queries (see :mod:`~sreworkbook.sources.range_cache`)."""
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
            cache=cache,
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
        started = self._server_started(deadline) if self.cache is not None else ""
        if self.cache is not None and started:
            frames = self._cached_pieces(expr, first, last, step_s, started, deadline)
        else:
            frames = [
                frame_from_result(self._range(expr, a, b, step_s, deadline))
                for a, b in self.chunks(first, last, step_s)
            ]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return frame_from_result([])
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        labels = sorted(c for c in frame.columns if c not in ("timestamp", "value"))
        frame = frame.drop_duplicates(subset=["timestamp", *labels], keep="first")
        # One order however the query was cut: by series, then time.
        frame = frame.sort_values([*labels, "timestamp"], kind="stable", na_position="last")
        return frame[["timestamp", *labels, "value"]].reset_index(drop=True)

    def _range(
        self, expr: str, start: float, end: float, step_s: float, deadline: Deadline | None
    ) -> list[dict[str, Any]]:
        params = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step_s:.3f}".rstrip("0").rstrip("."),
        }
        result = self._get("/api/v1/query_range", params, expr, deadline).get("result", [])
        return result if isinstance(result, list) else []

    def _cached_pieces(
        self,
        expr: str,
        first: float,
        last: float,
        step_s: float,
        started: str,
        deadline: Deadline | None,
    ) -> list[pd.DataFrame]:
        """The query in day-long pieces aligned on absolute time: settled ones from (or into)
        the cache, whole; the rest asked for as far as needed. Rows outside
        ``[first, last]`` are dropped, so the frame is the uncached one."""
        cache = self.cache
        assert cache is not None
        step_ms, first_ms, last_ms = round(step_s * 1000), round(first * 1000), round(last * 1000)
        frames = []
        for a, b in aligned_pieces(first_ms, last_ms, step_ms, self.max_points):
            if cache.settled(b):
                key = cache.key(self.url, started, expr, step_ms, (a, b))
                result = cache.get(key)
                if result is None:
                    result = self._range(expr, a / 1000, b / 1000, step_s, deadline)
                    cache.put(key, result)
            else:
                a, b = max(a, first_ms), min(b, last_ms)
                result = self._range(expr, a / 1000, b / 1000, step_s, deadline)
            frame = frame_from_result(result)
            if not frame.empty:
                low = pd.Timestamp(first_ms, unit="ms", tz="UTC")
                high = pd.Timestamp(last_ms, unit="ms", tz="UTC")
                frame = frame[(frame["timestamp"] >= low) & (frame["timestamp"] <= high)]
            frames.append(frame)
        return frames

    def _server_started(self, deadline: Deadline | None) -> str:
        """When the server started (``/api/v1/status/runtimeinfo``), or "" (no cache) when it
        does not say: Thanos and some stores do not serve it."""
        if self._started is None:
            try:
                info = self._get("/api/v1/status/runtimeinfo", {}, "runtimeinfo", deadline)
                self._started = str(info.get("startTime") or "")
            except SourceError:
                self._started = ""
        return self._started

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
        body = reply.json_object()
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
    body = reply.json_object()
    if isinstance(body, dict):
        return None
    return f"HTTP {reply.status} with {unparseable(reply.body, reply.content_type)}"
