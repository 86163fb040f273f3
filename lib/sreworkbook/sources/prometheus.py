"""The Prometheus HTTP API (also Thanos, Mimir, VictoriaMetrics) into tidy pandas frames.

Only the documented ``/api/v1/query`` and ``/api/v1/query_range`` endpoints are used, so any
Prometheus-compatible store works unchanged. Range queries longer than the server's
11,000-points-per-series cap are split into chunks aligned on the step, so the timestamps are
exactly those of one unchunked query. Transient failures (connection errors, timeouts, 429 and
5xx) are retried with backoff; a query Prometheus rejects is reported at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import requests

from sreworkbook.config import PrometheusConfig
from sreworkbook.exceptions import SourceError, SourceTimeout

__all__ = ["MAX_POINTS", "PrometheusSource", "frame_from_result"]

MAX_POINTS = 11_000
_RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class _Auth:
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None


def _epoch(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


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
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self._auth = _Auth(bearer_token, username, password)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_points = max_points
        self._sleep = sleep
        self.requests_made = 0
        self.seconds_waiting = 0.0
        # Once the server has refused or ignored every retry, later queries fail at once
        # instead of each waiting through the same retries (a dashboard sends dozens).
        self._unreachable: str | None = None

    @classmethod
    def from_config(
        cls,
        config: PrometheusConfig,
        environ: Mapping[str, str],
        *,
        session: requests.Session | None = None,
    ) -> PrometheusSource:
        """A client for ``config``, its credentials resolved from ``environ`` now."""
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
        )

    # -- public API -------------------------------------------------------------------------
    def query(self, expr: str, at: datetime | float | None = None) -> pd.DataFrame:
        """An instant query: one row per series."""
        params: dict[str, str] = {"query": expr}
        if at is not None:
            params["time"] = f"{_epoch(at):.3f}"
        data = self._get("/api/v1/query", params, expr)
        result = data.get("result", [])
        if data.get("resultType") == "scalar":
            result = [{"metric": {}, "value": result}]
        return frame_from_result(result)

    def query_range(
        self, expr: str, start: datetime | float, end: datetime | float, step_s: float
    ) -> pd.DataFrame:
        """A range query, chunked transparently under the points-per-series cap."""
        if step_s <= 0:
            raise ValueError("step must be positive")
        first, last = _epoch(start), _epoch(end)
        frames = []
        for chunk_start, chunk_end in self.chunks(first, last, step_s):
            params = {
                "query": expr,
                "start": f"{chunk_start:.3f}",
                "end": f"{chunk_end:.3f}",
                "step": f"{step_s:.3f}".rstrip("0").rstrip("."),
            }
            data = self._get("/api/v1/query_range", params, expr)
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
    def _headers(self) -> dict[str, str]:
        if self._auth.bearer_token:
            return {"Authorization": f"Bearer {self._auth.bearer_token}"}
        return {}

    def _get(self, path: str, params: dict[str, str], expr: str) -> dict[str, Any]:
        auth = (self._auth.username, self._auth.password or "") if self._auth.username else None
        if self._unreachable is not None:
            raise SourceError(self._unreachable, source=self.name, query=expr)
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            started = time.perf_counter()
            try:
                self.requests_made += 1
                response = self.session.get(
                    self.url + path,
                    params=params,
                    headers=self._headers(),
                    auth=auth,
                    timeout=self.timeout_s,
                )
            except requests.Timeout:
                last_problem = f"no answer within {self.timeout_s:g} s"
                continue
            except requests.ConnectionError as exc:
                last_problem = f"cannot connect to {self.url} ({type(exc).__name__})"
                continue
            finally:
                self.seconds_waiting += time.perf_counter() - started
            if response.status_code in _RETRYABLE:
                last_problem = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit() and attempt < self.retries:
                    self._sleep(float(retry_after))
                continue
            return self._payload(response, expr)
        if last_problem.startswith(("no answer", "cannot connect")):
            self._unreachable = f"{last_problem} (gave up after {self.retries + 1} attempts)"
        if last_problem.startswith("no answer"):
            raise SourceTimeout(last_problem, source=self.name, query=expr)
        raise SourceError(
            f"{last_problem} after {self.retries + 1} attempts", source=self.name, query=expr
        )

    def _payload(self, response: requests.Response, expr: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise SourceError(
                f"HTTP {response.status_code}: not a Prometheus API answer",
                source=self.name,
                query=expr,
                status=response.status_code,
            ) from None
        if response.status_code != 200 or body.get("status") != "success":
            raise SourceError(
                f"{body.get('errorType', 'error')}: {body.get('error', response.reason)}",
                source=self.name,
                query=expr,
                status=response.status_code,
            )
        data = body.get("data", {})
        return data if isinstance(data, dict) else {}
