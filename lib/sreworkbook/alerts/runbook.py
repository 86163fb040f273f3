"""Executable runbooks: the alert being diagnosed and what a diagnosis found.

A runbook starts from the alert (its labels as Alertmanager shows them, or the whole alert
with ``startsAt``) and a window (:func:`alert_context`), reads the metrics backend the
dashboard uses, and says what it found as a :class:`Diagnosis`: status, headline, metrics,
findings, and the frames behind its charts and tables. The diagnoses themselves are in
:mod:`sreworkbook.alerts.diagnose`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml

from sreworkbook import plots
from sreworkbook.dashboard import Window, resolve_window
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.known_incidents import Incident, overlapping
from sreworkbook.results import CheckResult, Finding, Status
from sreworkbook.sources.panels import MetricsBackend, empty_frame
from sreworkbook.timeutil import parse_time, rfc3339

__all__ = [
    "AlertContext",
    "Diagnosis",
    "alert_context",
    "alert_markdown",
    "checks_frame",
    "clean",
    "highest",
    "panel",
]


@dataclass(frozen=True)
class AlertContext:
    """The alert being diagnosed: its labels and the window to look at."""

    labels: Mapping[str, str]
    window: Window

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())) or "no labels"
        return f"{shown}; {self.window.label()}"


def alert_context(
    labels: str,
    *,
    start: str,
    end: str,
    window: str,
    now: datetime,
    lead: timedelta = timedelta(minutes=30),
) -> AlertContext:
    """The context from the parameters: ``labels`` is a JSON or YAML mapping of labels, or a
    whole Alertmanager alert (``labels``, ``startsAt``), whose start (minus ``lead``) then
    opens the window unless ``start`` is given."""
    try:
        data: Any = yaml.safe_load(labels) if labels.strip() else {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"not JSON or YAML: {exc}", key="labels") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ParameterError("must be a mapping of label names to values", key="labels")
    if isinstance(data.get("labels"), Mapping):
        if not start and data.get("startsAt"):
            start = rfc3339(
                parse_time(str(data["startsAt"]), now=now, name="labels.startsAt") - lead
            )
        data = data["labels"]
    shown = {str(k): "" if v is None else str(v) for k, v in data.items()}
    return AlertContext(
        shown, resolve_window(start=start, end=end, window=window, step="auto", now=now)
    )


@dataclass(frozen=True)
class Diagnosis:
    """What a runbook found, and the frames behind its charts and tables."""

    status: Status
    headline: str
    metrics: Mapping[str, float]
    findings: tuple[Finding, ...]
    panels: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()

    def figure(
        self,
        panel: str,
        *,
        title: str,
        unit: str,
        threshold: float | None = None,
        incidents: Sequence[Incident] = (),
    ) -> go.Figure:
        """One panel as a chart in the workbook's theme, the incidents inside it shaded."""
        frame = self.panels.get(panel, empty_frame())
        shaded: tuple[Incident, ...] = ()
        if not frame.empty:
            first = pd.Timestamp(frame["timestamp"].min()).to_pydatetime(warn=False)
            last = pd.Timestamp(frame["timestamp"].max()).to_pydatetime(warn=False)
            shaded = overlapping(incidents, first, last)
        return plots.timeseries(
            frame,
            title=title,
            unit=unit,
            threshold=threshold,
            incidents=shaded,
            empty_note="no data for this window",
        )

    def table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())


def panel(
    backend: MetricsBackend, name: str, window: Window, problems: list[Finding]
) -> pd.DataFrame:
    try:
        return backend.panel(name, window.start, window.end, window.step_s)
    except SourceError as exc:
        problems.append(Finding(Status.UNKNOWN, f"No data for {name}", str(exc)))
        return empty_frame()


def highest(frame: pd.DataFrame) -> tuple[float | None, datetime | None]:
    if frame.empty:
        return None, None
    at = int(np.nanargmax(frame["value"].to_numpy(np.float64)))
    return float(frame["value"].iloc[at]), pd.Timestamp(frame["timestamp"].iloc[at]).to_pydatetime(
        warn=False
    )


def clean(metrics: Mapping[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def checks_frame(results: tuple[CheckResult, ...]) -> pd.DataFrame:
    """The health checks a runbook ran, as a table."""
    return pd.DataFrame(
        [
            {
                "component": r.component,
                "status": r.status.value,
                "detail": r.detail,
                "target": r.target,
            }
            for r in results
        ]
    )


def alert_markdown(ctx: AlertContext) -> str:
    """The alert's labels and the window, for the report."""
    rows = [f"| `{k}` | `{v}` |" for k, v in sorted(ctx.labels.items())]
    table = "\n".join(["| label | value |", "| --- | --- |", *rows]) if rows else "No labels given."
    return f"Window: {ctx.window.label()} (charts every {ctx.window.step_s:g} s).\n\n{table}"
