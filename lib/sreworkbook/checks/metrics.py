"""The service's Prometheus ``/metrics`` exposition: it parses, and the required families are there.

CRIT when the endpoint fails or none of ``service.required_metrics`` is exposed; WARN when
some are missing (they are listed); UNKNOWN when the answer is not an exposition at all
(truncated, an HTML page, binary data: nothing was measured).
Names are matched the way Prometheus users write them: a histogram is its family name
(``http_request_duration_seconds``, no ``_bucket``), and a counter matches with or without
``_total`` (the parser names the family ``x`` for the exposed ``x_total``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import requests
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from sreworkbook.checks._common import masked
from sreworkbook.checks.net import failure, http_get, joined, service_request
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment
from sreworkbook.edges.http import unparseable
from sreworkbook.exceptions import SecretError, SourceError
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import mask_uri

__all__ = [
    "exposed_names",
    "judge_exposition",
    "metrics_check",
    "missing_metrics",
    "parse_exposition",
]

NAME = "metrics exposition"
COMPONENT = "service"


def parse_exposition(text: str) -> list[Metric]:
    """The metric families in a Prometheus text exposition; ``ValueError`` if it is not one."""
    try:
        return list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"not a Prometheus exposition: {exc}") from exc


def exposed_names(families: Iterable[Metric]) -> set[str]:
    """Every name a user may look for: family names, counter ``_total`` forms, sample names."""
    names: set[str] = set()
    for family in families:
        names.add(family.name)
        if family.type == "counter" and not family.name.endswith("_total"):
            names.add(f"{family.name}_total")
        names.update(sample.name for sample in family.samples)
    return names


def missing_metrics(required: Sequence[str], families: Iterable[Metric]) -> list[str]:
    """The names in ``required`` that ``families`` do not expose, in the order given."""
    names = exposed_names(families)

    def present(name: str) -> bool:
        if name in names:
            return True
        return name.endswith("_total") and name.removesuffix("_total") in names

    return [name for name in required if not present(name)]


def metrics_check(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> Check | None:
    """The ``/metrics`` check, or ``None`` when the service exposes no metrics path."""
    service = env.service
    if service is None or not service.metrics_path:
        return None
    path = service.metrics_path
    required = list(service.required_metrics)

    def probe(timeout_s: float) -> CheckResult:
        try:
            url, headers = service_request(env, environ, path)
        except SecretError as exc:
            return CheckResult(NAME, COMPONENT, Status.UNKNOWN, detail=str(exc))
        target = mask_uri(url)
        try:
            answer = http_get(url, timeout_s=timeout_s, session=session, headers=headers)
        except SourceError as exc:
            status, detail = failure(exc)
            return CheckResult(NAME, COMPONENT, status, detail=detail, target=target)
        if answer.status_code != 200:
            return CheckResult(
                NAME, COMPONENT, Status.CRIT, detail=f"HTTP {answer.status_code}", target=target
            )
        try:
            families = parse_exposition(answer.text())
        except ValueError:  # an answer that cannot be read measured nothing
            what = unparseable(answer.body, answer.content_type, expected="a Prometheus exposition")
            detail = masked(f"HTTP 200 but {what}")
            return CheckResult(NAME, COMPONENT, Status.UNKNOWN, detail=detail, target=target)
        return judge_exposition(families, required, target=target)

    return Check(
        NAME, COMPONENT, mask_uri(joined(service.base_url, path)), env.check_timeout_s, probe
    )


def judge_exposition(
    families: Sequence[Metric], required: Sequence[str], *, target: str = ""
) -> CheckResult:
    """The result for a parsed exposition against the ``required`` names."""
    samples = sum(len(family.samples) for family in families)
    missing = missing_metrics(required, families)
    metrics = {
        "families": float(len(families)),
        "samples": float(samples),
        "missing": float(len(missing)),
    }
    summary = f"{len(families)} families, {samples} samples"
    if not families:
        return CheckResult(
            NAME, COMPONENT, Status.CRIT, detail="empty exposition", target=target, metrics=metrics
        )
    if not missing:
        status = Status.OK
        detail = f"{summary}, all {len(required)} required present"
    else:
        status = Status.CRIT if len(missing) == len(required) else Status.WARN
        detail = f"{summary}; missing {len(missing)} of {len(required)}: {', '.join(missing)}"
    return CheckResult(NAME, COMPONENT, status, detail=detail, target=target, metrics=metrics)
