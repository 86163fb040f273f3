"""HTTP health checks: ``/health``, ``/health/detailed`` per component, Kubernetes probes, AI.

Statuses:

- an answer with the wrong status code, a JSON ``status`` of unhealthy/down/error, or a
  refused or reset connection → CRIT;
- a JSON ``status`` of degraded/warn, or an answer slower than
  ``thresholds.check_latency_warn_ms`` → WARN;
- no answer within the timeout → UNKNOWN: a hanging endpoint may be down or only slow, and
  the check cannot tell which (a refused connection, by contrast, is known to be down).

URLs and headers may hold ``${ENV}`` references; they are resolved inside the probe, at
request time, and results show only masked URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sreworkbook.checks._common import masked
from sreworkbook.checks.net import HttpAnswer, failure, http_get, joined, service_request
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment
from sreworkbook.edges.http import unparseable
from sreworkbook.exceptions import SecretError, SourceError
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import mask_uri

__all__ = [
    "ai_service_check",
    "component_results",
    "health_status",
    "service_checks",
]

_OK_WORDS = {"ok", "healthy", "up", "pass", "passing", "green", "ready", "alive", "started"}
_WARN_WORDS = {"degraded", "warn", "warning", "yellow", "slow"}
_CRIT_WORDS = {"unhealthy", "down", "error", "fail", "failed", "failing", "critical", "red"}


def health_status(value: Any) -> Status | None:
    """The status a health payload's ``status`` value means; ``None`` if it says nothing.

    healthy/ok/up/pass → OK, degraded/warn → WARN, unhealthy/down/error/fail → CRIT; a
    boolean (``"healthy": true``) maps to OK/CRIT; an unknown word → UNKNOWN.
    """
    if isinstance(value, bool):
        return Status.OK if value else Status.CRIT
    if not isinstance(value, str) or not value.strip():
        return None
    word = value.strip().lower()
    if word in _OK_WORDS:
        return Status.OK
    if word in _WARN_WORDS:
        return Status.WARN
    if word in _CRIT_WORDS:
        return Status.CRIT
    return Status.UNKNOWN


def _payload_status(payload: Any) -> tuple[Status | None, str]:
    """The status a JSON object reports (``status``, else ``healthy``/``ok``) and its word."""
    if not isinstance(payload, Mapping):
        return None, ""
    for key in ("status", "healthy", "ok"):
        if key in payload:
            status = health_status(payload[key])
            if status is not None:
                return status, str(payload[key]).lower()
    return None, ""


def _numbers(data: Mapping[str, Any]) -> dict[str, float]:
    """Numeric fields of a component's entry, one nested level flattened as ``a.b``."""
    found: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[str(key)] = float(value)
        elif isinstance(value, Mapping):
            for inner, number in value.items():
                if isinstance(number, int | float) and not isinstance(number, bool):
                    found[f"{key}.{inner}"] = float(number)
    return found


def component_results(payload: Any, *, target: str) -> tuple[CheckResult, ...]:
    """One result per entry of a ``/health/detailed`` payload's ``checks`` mapping.

    The entry's ``responseTime`` (ms) becomes the result's latency; its numeric fields
    (``responseTime``, ``usagePercent``, ...) its metrics; its ``message``/``error`` the detail.
    """
    checks = payload.get("checks") if isinstance(payload, Mapping) else None
    if not isinstance(checks, Mapping):
        return ()
    results = []
    for key, entry in checks.items():
        data: Mapping[str, Any] = entry if isinstance(entry, Mapping) else {"status": entry}
        status, word = _payload_status(data)
        metrics = _numbers(data)
        words = [word or "no status reported"]
        for field in ("message", "error"):
            if isinstance(data.get(field), str) and data[field]:
                words.append(str(data[field])[:200])
        if "usagePercent" in metrics:
            words.append(f"{metrics['usagePercent']:.1f} % used")
        results.append(
            CheckResult(
                name="reported health",
                component=str(key),
                status=status or Status.UNKNOWN,
                latency_ms=metrics.get("responseTime"),
                detail=masked(", ".join(words)),
                target=target,
                metrics=metrics,
            )
        )
    return tuple(results)


@dataclass(frozen=True)
class _Endpoint:
    """The probe of one HTTP endpoint; ``detailed`` adds per-component results."""

    env: Environment
    name: str
    component: str
    request: Callable[[], tuple[str, dict[str, str]]]
    expected_status: int | None
    session: requests.Session | None
    detailed: bool = False

    def __call__(self, timeout_s: float) -> tuple[CheckResult, ...]:
        try:
            url, headers = self.request()
        except SecretError as exc:
            return (self._result(Status.UNKNOWN, str(exc), ""),)
        target = mask_uri(url)
        try:
            answer = http_get(url, timeout_s=timeout_s, session=self.session, headers=headers)
        except SourceError as exc:
            status, detail = failure(exc)
            return (self._result(status, detail, target),)
        return self._judge(answer, target)

    def _result(
        self, status: Status, detail: str, target: str, metrics: Mapping[str, float] | None = None
    ) -> CheckResult:
        return CheckResult(
            self.name, self.component, status, detail=detail, target=target, metrics=metrics or {}
        )

    def _judge(self, answer: HttpAnswer, target: str) -> tuple[CheckResult, ...]:
        payload = answer.json()
        reported, word = _payload_status(payload)
        code = answer.status_code
        parts = [f"HTTP {code}"]
        if self.expected_status is None:
            status = Status.OK if 200 <= code < 300 else Status.CRIT
            if status is Status.CRIT:
                parts[0] += " (expected 2xx)"
        else:
            status = Status.OK if code == self.expected_status else Status.CRIT
            if status is Status.CRIT:
                parts[0] += f" (expected {self.expected_status})"
        says_json = "json" in answer.content_type.lower() and bool(answer.body.strip())
        if payload is None and (self.detailed or says_json) and status is Status.OK:
            # The code says fine, the body cannot be read: nothing it reports was measured.
            what = unparseable(answer.body, answer.content_type)
            detail = f"HTTP {code} but {what}"
            return (self._result(Status.UNKNOWN, detail, target, {"status_code": float(code)}),)
        if reported is not None:
            parts.append(f"status {word}")
            if reported is not Status.UNKNOWN and reported.rank > status.rank:
                status = reported
        components = component_results(payload, target=target) if self.detailed else ()
        if self.detailed:
            parts.append(f"{len(components)} components")
        warn_ms = self.env.thresholds.check_latency_warn_ms
        parts.append(f"{answer.elapsed_ms:.0f} ms")
        if answer.elapsed_ms > warn_ms:
            parts.append(f"slow: over {warn_ms:g} ms")
            if status is Status.OK:
                status = Status.WARN
        metrics = {"status_code": float(code), "response_ms": answer.elapsed_ms}
        return (self._result(status, ", ".join(parts), target, metrics), *components)


def service_checks(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> list[Check]:
    """``/health``, ``/health/detailed`` and every Kubernetes probe of ``env.service``."""
    service = env.service
    if service is None:
        return []

    def check(name: str, path: str, expected: int | None, *, detailed: bool = False) -> Check:
        probe = _Endpoint(
            env,
            name=name,
            component="service",
            request=lambda: service_request(env, environ, path),
            expected_status=expected,
            session=session,
            detailed=detailed,
        )
        target = mask_uri(joined(service.base_url, path))
        return Check(name, "service", target, env.check_timeout_s, probe)

    checks = [check("health", service.health_path, None)]
    if service.detailed_path:
        checks.append(check("health detailed", service.detailed_path, None, detailed=True))
    for probe_name, probe in service.probes.items():
        checks.append(check(f"{probe_name} probe", probe.path, probe.expected_status))
    return checks


def ai_service_check(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> Check | None:
    """The AI service's health URL, or ``None`` when the environment has none."""
    ai = env.ai_service
    if ai is None:
        return None
    probe = _Endpoint(
        env,
        name="health",
        component="ai_service",
        request=lambda: (env.secret(ai.url, environ, key="ai_service.url"), {}),
        expected_status=ai.expected_status,
        session=session,
    )
    return Check("health", "ai_service", mask_uri(ai.url), env.check_timeout_s, probe)
