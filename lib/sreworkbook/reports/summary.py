"""What a notebook publishes for the run pipeline, and how the pipeline reads it back.

Every notebook ends the same way: ``reports.emit(result)``, where ``result`` has a
``status``, a ``headline``, ``metrics`` and ``findings`` (a
:class:`~sreworkbook.results.Conclusion`, a health report, a backup assessment, a diagnosis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sreworkbook.results import (
    SUMMARY_MIME,
    Conclusion,
    Finding,
    RunSummary,
    Status,
    fold_findings,
)

__all__ = ["conclusion_of", "emit", "extract"]

_PARTS = ("status", "headline", "metrics", "findings")


def conclusion_of(result: Any) -> Conclusion:
    """``result``'s status, headline, metrics and findings (attributes, or methods taking no
    argument); a ``TypeError`` naming what is missing otherwise."""
    if isinstance(result, Conclusion):
        return result
    found: dict[str, Any] = {}
    for part in _PARTS:
        if not hasattr(result, part):
            raise TypeError(
                f"emit() needs an object with status, headline, metrics and findings; "
                f"{type(result).__name__} has no {part}"
            )
        value = getattr(result, part)
        found[part] = value() if callable(value) else value
    return Conclusion(
        Status(found["status"]),
        str(found["headline"]),
        dict(found["metrics"] or {}),
        tuple(found["findings"] or ()),
    )


def emit(
    result: Any,
    headline: str | None = None,
    *,
    metrics: Mapping[str, float | None] | None = None,
    findings: Iterable[Finding] = (),
) -> RunSummary:
    """The notebook's conclusion; display it (the last expression of a cell) to publish it.

    ``emit(result)`` is the one form notebooks use. ``emit(status, headline, metrics=...,
    findings=...)`` is still read, for notebooks written before it. Metrics that are None
    (not measured) are left out; identical findings are folded into one with a count.
    """
    if headline is not None:
        given = {k: v for k, v in (metrics or {}).items() if v is not None}
        conclusion = Conclusion(Status(result), headline, given, tuple(findings))
    else:
        conclusion = conclusion_of(result)
    measured = conclusion.metrics.items()
    clean = {name: float(value) for name, value in measured if value is not None}
    return RunSummary(
        status=conclusion.status,
        headline=conclusion.headline,
        metrics=clean,
        findings=fold_findings(conclusion.findings),
    )


def extract(nb: Any) -> RunSummary | None:
    """The last summary a notebook published, or ``None`` if it published none."""
    found: RunSummary | None = None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            if SUMMARY_MIME in data:
                found = RunSummary.from_dict(data[SUMMARY_MIME])
    return found
