"""Host memory and CPU %, from Prometheus or, without one, from the service's ``/metrics``.

With ``env.prometheus``: an instant query (``GET /api/v1/query``) of
``prometheus.memory_pct_query`` / ``cpu_pct_query`` with ``$job`` replaced by
``prometheus.job``, authenticated with the bearer token or basic auth (references resolved
per request). Without it: the gauges ``system_memory_usage_percent`` /
``system_cpu_usage_percent`` in the service's exposition. Above the crit threshold → CRIT,
above warn → WARN (a value exactly at a threshold does not cross it). No data, or a source
that cannot be read, → UNKNOWN: the host's state is then not known (a broken ``/metrics``
is the metrics check's CRIT, not the host's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests

from sreworkbook.checks._common import grade_above, masked
from sreworkbook.checks.metrics import parse_exposition
from sreworkbook.checks.net import failure, http_get, joined, service_request
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment, PrometheusConfig
from sreworkbook.exceptions import SecretError, SourceError
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import mask_uri

__all__ = ["host_checks", "instant_value"]

COMPONENT = "host"


@dataclass(frozen=True)
class _Resource:
    name: str  # "memory" | "cpu"
    metric: str  # the result's metrics key
    gauge: str  # the fallback gauge in /metrics
    warn: float
    crit: float


def _resources(env: Environment) -> list[_Resource]:
    limits = env.thresholds
    return [
        _Resource(
            "memory",
            "memory_pct",
            "system_memory_usage_percent",
            limits.memory_warn_pct,
            limits.memory_crit_pct,
        ),
        _Resource(
            "cpu", "cpu_pct", "system_cpu_usage_percent", limits.cpu_warn_pct, limits.cpu_crit_pct
        ),
    ]


def instant_value(payload: Any) -> float | None:
    """The value of an instant-query answer: the largest sample of a vector, or a scalar.

    ``None`` when the answer holds no (finite) sample. A non-success answer raises
    ``ValueError`` with Prometheus's own error text.
    """
    if not isinstance(payload, Mapping):
        raise ValueError("not a Prometheus API answer")
    if payload.get("status") != "success":
        raise ValueError(str(payload.get("error") or payload.get("status") or "query failed"))
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ValueError("answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    pairs: list[Any]
    if kind == "vector" and isinstance(result, list):
        pairs = [item.get("value") for item in result if isinstance(item, Mapping)]
    elif kind == "scalar":
        pairs = [result]
    else:
        raise ValueError(f"expected a vector or scalar, got {kind}")
    values: list[float] = []
    for pair in pairs:
        if isinstance(pair, list) and len(pair) == 2:
            try:
                value = float(pair[1])
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                values.append(value)
    return max(values) if values else None


def _result(resource: _Resource, value: float, source: str, target: str) -> CheckResult:
    status = grade_above(value, warn=resource.warn, crit=resource.crit)
    detail = f"{value:.1f} % ({source}; warn > {resource.warn:g}, crit > {resource.crit:g})"
    return CheckResult(
        resource.name,
        COMPONENT,
        status,
        detail=detail,
        target=target,
        metrics={resource.metric: value},
    )


def _unknown(resource: _Resource, detail: str, *, target: str) -> CheckResult:
    """The host's state is not known: the source could not be read, or held no data."""
    return CheckResult(resource.name, COMPONENT, Status.UNKNOWN, detail=detail, target=target)


def _prometheus_check(
    env: Environment,
    config: PrometheusConfig,
    resource: _Resource,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None,
) -> Check:
    template = config.memory_pct_query if resource.name == "memory" else config.cpu_pct_query
    query = template.replace("$job", config.job)
    shown = mask_uri(joined(config.url, "/api/v1/query"))

    def probe(timeout_s: float) -> CheckResult:
        fail = partial(_unknown, resource, target=shown)
        try:
            url = joined(env.secret(config.url, environ, key="prometheus.url"), "/api/v1/query")
            headers: dict[str, str] = {}
            auth: tuple[str, str] | None = None
            if config.bearer_token:
                token = env.secret(config.bearer_token, environ, key="prometheus.bearer_token")
                headers["Authorization"] = f"Bearer {token}"
            if config.username and config.password is not None:
                user = env.secret(config.username, environ, key="prometheus.username")
                password = env.secret(config.password, environ, key="prometheus.password")
                auth = (user, password)
        except SecretError as exc:
            return fail(str(exc))
        target = mask_uri(url)
        wait = min(timeout_s, config.timeout_s)
        try:
            answer = http_get(
                url,
                timeout_s=wait,
                session=session,
                headers=headers,
                auth=auth,
                params={"query": query},
            )
        except SourceError as exc:
            return fail(f"cannot query Prometheus: {failure(exc)[1]}", target=target)
        try:
            value = instant_value(answer.json())
        except ValueError as exc:
            detail = f"HTTP {answer.status_code}: {masked(str(exc))[:200]}"
            return fail(detail, target=target)
        if value is None:
            return fail(f"no data for {query}", target=target)
        return _result(resource, value, f"Prometheus: {query}", target)

    return Check(resource.name, COMPONENT, shown, env.check_timeout_s, probe)


def _exposition_check(
    env: Environment,
    path: str,
    resource: _Resource,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None,
) -> Check:
    service = env.service
    base = service.base_url if service else ""
    shown = mask_uri(joined(base, path))

    def probe(timeout_s: float) -> CheckResult:
        fail = partial(_unknown, resource, target=shown)
        try:
            url, headers = service_request(env, environ, path)
        except SecretError as exc:
            return fail(str(exc))
        target = mask_uri(url)
        try:
            answer = http_get(url, timeout_s=timeout_s, session=session, headers=headers)
        except SourceError as exc:
            return fail(f"cannot read {path}: {failure(exc)[1]}", target=target)
        if answer.status_code != 200:
            return fail(f"HTTP {answer.status_code} from {path}", target=target)
        try:
            families = parse_exposition(answer.text())
        except ValueError as exc:
            return fail(masked(str(exc))[:200], target=target)
        values = [
            sample.value
            for family in families
            if family.name == resource.gauge
            for sample in family.samples
            if sample.name == resource.gauge and math.isfinite(sample.value)
        ]
        if not values:
            return fail(f"no data for {resource.gauge} in {path}", target=target)
        return _result(resource, max(values), f"{resource.gauge} in {path}", target)

    return Check(resource.name, COMPONENT, shown, env.check_timeout_s, probe)


def host_checks(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> list[Check]:
    """Memory and CPU checks; empty when there is neither Prometheus nor a ``/metrics``."""
    config, service = env.prometheus, env.service
    if config is not None:
        return [
            _prometheus_check(env, config, r, environ=environ, session=session)
            for r in _resources(env)
        ]
    if service is not None and service.metrics_path:
        path = service.metrics_path
        return [
            _exposition_check(env, path, r, environ=environ, session=session)
            for r in _resources(env)
        ]
    return []
