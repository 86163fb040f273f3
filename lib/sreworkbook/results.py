"""Typed, immutable results: statuses, check results, findings and the run summary."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, NamedTuple

__all__ = [
    "EXIT_TIMEOUT",
    "SUMMARY_MIME",
    "CheckResult",
    "Conclusion",
    "Finding",
    "RunSummary",
    "Status",
    "fold_findings",
    "format_metric",
    "record",
    "worst",
]

#: Exit code of a run that passed its deadline (as GNU ``timeout`` exits).
EXIT_TIMEOUT = 124

#: The MIME type under which a notebook publishes its summary for the run pipeline.
SUMMARY_MIME = "application/vnd.sreworkbook.summary+json"


def record(item: Any, **values: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready data: its fields in declared order, ``values`` replacing some.

    Enums become their values, tuples lists, mappings dicts, and dataclasses with a ``to_dict``
    their own. One list of fields, so a field added to the class is not forgotten by its JSON.
    """
    data = {f.name: _plain(getattr(item, f.name)) for f in fields(item)}
    data.update(values)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class Status(StrEnum):
    """How healthy something is.

    OK, WARN and CRIT are verdicts on something measured; UNKNOWN means it could not be
    measured (README, "Statuses"). The last three are for runs only: ``TIMEOUT`` the run passed
    its deadline, ``ABORTED`` it started and never finished (killed from outside), ``ERROR`` the
    notebook itself failed.
    """

    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"
    TIMEOUT = "TIMEOUT"
    ABORTED = "ABORTED"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        """Severity order used to pick the worst status; SKIPPED never degrades a run."""
        return _RANK[self]

    @property
    def colour(self) -> str:
        return _COLOUR[self]

    @property
    def exit_code(self) -> int:
        """Exit code of a run ending in this status (see README, "Exit codes")."""
        if self in (Status.OK, Status.WARN, Status.SKIPPED):
            return 0
        if self is Status.TIMEOUT:
            return EXIT_TIMEOUT
        if self in (Status.ERROR, Status.ABORTED):
            return 2
        return 1


_RANK = {
    Status.SKIPPED: 0,
    Status.OK: 1,
    Status.WARN: 2,
    Status.UNKNOWN: 3,
    Status.CRIT: 4,
    Status.TIMEOUT: 5,
    Status.ABORTED: 6,
    Status.ERROR: 7,
}
_COLOUR = {
    Status.OK: "#1a7f37",
    Status.WARN: "#b58100",
    Status.CRIT: "#cf222e",
    Status.UNKNOWN: "#6e40c9",
    Status.SKIPPED: "#6e7781",
    Status.TIMEOUT: "#953800",
    Status.ABORTED: "#57606a",
    Status.ERROR: "#82071e",
}


def fold_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """``findings`` with identical ones (severity, title, detail) folded into the first, its
    title counting them (``No data for latency (×2)``); the order is kept."""
    counts: dict[Finding, int] = {}
    for finding in findings:
        counts[finding] = counts.get(finding, 0) + 1
    return tuple(
        f if n == 1 else Finding(f.severity, f"{f.title} (×{n})", f.detail)
        for f, n in counts.items()
    )


def worst(statuses: Iterable[Status], *, default: Status = Status.OK) -> Status:
    """The most severe of ``statuses``; ``default`` when there are none or all were skipped."""
    ranked = [s for s in statuses if s is not Status.SKIPPED]
    return max(ranked, key=lambda s: s.rank) if ranked else default


@dataclass(frozen=True)
class Finding:
    """Something a reader should know: a problem, a change, a limit."""

    severity: Status
    title: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity.value, "title": self.title, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(Status(data["severity"]), str(data["title"]), str(data.get("detail", "")))


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one health check."""

    name: str
    component: str
    status: Status
    latency_ms: float | None = None
    detail: str = ""
    target: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(data["name"]),
            component=str(data["component"]),
            status=Status(data["status"]),
            latency_ms=data.get("latency_ms"),
            detail=str(data.get("detail", "")),
            target=str(data.get("target", "")),
            metrics=dict(data.get("metrics") or {}),
        )


class Conclusion(NamedTuple):
    """What one piece of work concludes: the four things every notebook ends with.

    A NamedTuple, so code that unpacks ``status, headline, metrics, findings`` keeps working;
    :func:`sreworkbook.reports.emit` takes it (or any object with these four, as values or
    as methods) and publishes it.
    """

    status: Status
    headline: str
    metrics: Mapping[str, float]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class RunSummary:
    """What a notebook concludes: the contract every notebook emits (DESIGN.md, run contract).

    A notebook builds one with :func:`sreworkbook.reports.emit`; the run pipeline
    adds the run's identity and timing and writes ``summary.json`` and the ledger line.
    """

    status: Status
    headline: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    notebook: str = ""
    env: str = ""
    run_id: str = ""
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    parameters: Mapping[str, Any] = field(default_factory=dict)
    report: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "env": self.env,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3),
            "status": self.status.value,
            "headline": self.headline,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "findings": [f.to_dict() for f in self.findings],
            "parameters": dict(self.parameters),
            "report": self.report,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        metrics = {k: float(v) for k, v in (data.get("metrics") or {}).items()}
        order = [k for k in data.get("metric_order") or () if k in metrics]
        if order:
            metrics = {k: metrics[k] for k in order} | metrics
        return cls(
            status=Status(data["status"]),
            headline=str(data.get("headline", "")),
            metrics=metrics,
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            notebook=str(data.get("notebook", "")),
            env=str(data.get("env", "")),
            run_id=str(data.get("run_id", "")),
            started_at=str(data.get("started_at", "")),
            finished_at=str(data.get("finished_at", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            parameters=dict(data.get("parameters") or {}),
            report=str(data.get("report", "")),
        )

    def _repr_html_(self) -> str:
        return summary_banner_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The banner for people, the JSON for the run pipeline (``SUMMARY_MIME``)."""
        # Notebook files store JSON with sorted keys: keep the metrics' order alongside.
        payload = {**self.to_dict(), "metric_order": list(self.metrics)}
        return {"text/html": summary_banner_html(self), SUMMARY_MIME: payload}


def summary_banner_html(summary: RunSummary) -> str:
    """The status banner that opens every report: status, headline, key numbers, findings."""
    colour = summary.status.colour
    metrics = "".join(
        f'<div class="swb-metric"><div class="swb-metric-value">{format_metric(k, v)}</div>'
        f'<div class="swb-metric-name">{html.escape(k)}</div></div>'
        for k, v in summary.metrics.items()
    )
    findings = "".join(
        f'<li><span class="swb-badge" style="background:{f.severity.colour}">'
        f"{f.severity.value}</span> <b>{html.escape(f.title)}</b>"
        f"{' — ' + html.escape(f.detail) if f.detail else ''}</li>"
        for f in summary.findings
    )
    return (
        f'<div class="swb-summary" style="border-left:8px solid {colour};padding:8px 16px;'
        f'margin:8px 0;background:#f6f8fa;font-family:system-ui,sans-serif">'
        f'<div><span class="swb-badge swb-status" style="background:{colour};color:#fff;'
        f'padding:2px 10px;border-radius:4px;font-weight:700">{summary.status.value}</span> '
        f'<span class="swb-headline" style="font-size:1.15em">{html.escape(summary.headline)}'
        f"</span></div>"
        f'<div class="swb-metrics" style="display:flex;flex-wrap:wrap;gap:16px;margin-top:8px">'
        f"{metrics}</div>"
        f"{'<ul class=swb-findings>' + findings + '</ul>' if findings else ''}"
        f"</div>"
    )


_RATIOS = ("error_rate", "availability", "budget_left", "recall", "precision")


def format_metric(name: str, value: float) -> str:
    """``value`` as a reader expects it from the metric's name (ratios as %, ms, s, h; a
    ``*_at`` metric, epoch seconds, as a time in the reports' time zone, UTC)."""
    if name.endswith("_at"):
        return f"{datetime.fromtimestamp(value, UTC):%Y-%m-%d %H:%M:%S} UTC"
    if any(name == r or name.startswith(f"{r}_") for r in _RATIOS):
        digits = 3 if name == "availability" or name.startswith("availability_") else 2
        return f"{value * 100:.{digits}f} %"
    if name.endswith("_pct"):
        return f"{value:.1f} %"
    for suffix, unit in (("_ms", "ms"), ("_s", "s"), ("_h", "h")):
        if name.endswith(suffix):
            return f"{_fmt(value)} {unit}"
    return _fmt(value)


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"
