"""What a notebook publishes for the run pipeline, and how the pipeline reads it back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sreworkbook.results import SUMMARY_MIME, Finding, RunSummary, Status

__all__ = ["emit", "extract"]


def emit(
    status: Status | str,
    headline: str,
    *,
    metrics: Mapping[str, float] | None = None,
    findings: Iterable[Finding] = (),
) -> RunSummary:
    """The notebook's conclusion; display it (last expression of a cell) to publish it."""
    clean: dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if value is None:
            continue
        clean[name] = float(value)
    return RunSummary(
        status=Status(status), headline=headline, metrics=clean, findings=tuple(findings)
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
