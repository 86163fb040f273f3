"""Health checks: HTTP endpoints and Kubernetes probes, ``/metrics``, TLS expiry, MongoDB,
Redis, host memory and CPU; run concurrently, each under its own timeout, each a typed
:class:`~sreworkbook.results.CheckResult`.

    >>> report = inspect(env, environ=os.environ)        # build + run every check
    >>> report.status, report.headline()

Statuses: a target that refuses or answers wrongly is CRIT; one that does not answer in
time is UNKNOWN (down or only slow, the check cannot tell); a component the environment
does not configure is SKIPPED. Nothing a check does raises out of :func:`run_checks`.
"""

from sreworkbook.checks.host import host_checks, instant_value
from sreworkbook.checks.http import (
    ai_service_check,
    component_results,
    health_status,
    service_checks,
)
from sreworkbook.checks.inspection import HealthReport, build_health_checks, inspect
from sreworkbook.checks.metrics import (
    exposed_names,
    judge_exposition,
    metrics_check,
    missing_metrics,
    parse_exposition,
)
from sreworkbook.checks.mongo import mongo_check, replication_lag_s
from sreworkbook.checks.net import HttpAnswer, failure, http_get, joined, service_request
from sreworkbook.checks.redis import judge_info, redis_check
from sreworkbook.checks.runner import Check, Probe, ProbeOutcome, run_checks
from sreworkbook.checks.tls import Certificate, fetch_certificate, parse_target, tls_checks

__all__ = [
    "Certificate",
    "Check",
    "HealthReport",
    "HttpAnswer",
    "Probe",
    "ProbeOutcome",
    "ai_service_check",
    "build_health_checks",
    "component_results",
    "exposed_names",
    "failure",
    "fetch_certificate",
    "health_status",
    "host_checks",
    "http_get",
    "inspect",
    "instant_value",
    "joined",
    "judge_exposition",
    "judge_info",
    "metrics_check",
    "missing_metrics",
    "mongo_check",
    "parse_exposition",
    "parse_target",
    "redis_check",
    "replication_lag_s",
    "run_checks",
    "service_checks",
    "service_request",
    "tls_checks",
]
