"""What a notifier sends and returns, and the one :class:`Notifier` protocol.

A :class:`Notification` is channel-neutral; each notifier renders it (Slack blocks, an e-mail,
a PagerDuty event, a webhook body). A :class:`Delivery` is what came of one send: a failed
delivery is a result, never an exception, and its ``detail`` never holds a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.results import Finding, RunSummary, Status, record
from sreworkbook.secrets import MASK, Scrubber, references

__all__ = [
    "NOTIFY_POLICY",
    "Delivery",
    "Notification",
    "Notifier",
    "format_value",
    "masked_target",
    "resolve_failure",
    "scrubber_for",
    "severity_of",
]

#: Notifiers wait a second before the first retry (the data sources, half a second).
NOTIFY_POLICY = RetryPolicy(backoff_s=1.0)

_SEVERITY = {
    Status.CRIT: "critical",
    Status.ERROR: "error",
    Status.TIMEOUT: "error",
    Status.ABORTED: "error",
    Status.UNKNOWN: "error",
    Status.WARN: "warning",
    Status.OK: "info",
    Status.SKIPPED: "info",
}


def severity_of(status: Status) -> str:
    """The PagerDuty (PD-CEF) severity of ``status``: critical, error, warning or info."""
    return _SEVERITY[status]


def format_value(value: float) -> str:
    """A metric as a reader wants it: ``1,234``, ``0.0512``, ``812.4``."""
    if value != value:  # NaN
        return "n/a"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class Notification:
    """One message to people: what ran, how it ended, the numbers, where the report is.

    ``fields`` are (name, formatted value) pairs shown as key metrics; ``summary`` is free text
    (the top findings); ``dedup_key`` is stable per job so a later ``resolved`` message closes
    what an earlier one opened (PagerDuty); ``report_path`` is a local copy of the report that
    e-mail may attach; ``details`` is the machine-readable run summary (webhook, PagerDuty).
    """

    title: str
    status: Status
    headline: str
    summary: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    report_url: str = ""
    dedup_key: str = ""
    resolved: bool = False
    source: str = "sreworkbook"
    report_path: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_summary(
        cls,
        summary: RunSummary,
        report_url: str,
        *,
        report_path: str | None = None,
        resolved: bool | None = None,
        max_fields: int = 8,
        max_findings: int = 5,
    ) -> Notification:
        """The notification for a finished run.

        ``resolved`` defaults to "the run is OK" (or SKIPPED); the dedup key is
        ``sreworkbook:<env>:<notebook>``, one open incident per job. The summary's
        ``parameters`` are left out of ``details``.
        """
        notebook = summary.notebook or "run"
        title = f"{notebook} on {summary.env}" if summary.env else notebook
        ordered = sorted(summary.findings, key=lambda f: -f.severity.rank)
        shown = [f for f in ordered if f.severity is not Status.OK][:max_findings]
        lines = [
            f"{f.severity.value} — {f.title}" + (f": {f.detail}" if f.detail else "") for f in shown
        ]
        rest = sum(1 for f in ordered if f.severity is not Status.OK) - len(shown)
        if rest > 0:
            lines.append(f"… and {rest} more finding{'s' if rest > 1 else ''} in the report")
        details = summary.to_dict()
        details.pop("parameters", None)
        return cls(
            title=title,
            status=summary.status,
            headline=summary.headline,
            summary="\n".join(lines),
            fields=tuple(
                (name, format_value(float(value)))
                for name, value in list(summary.metrics.items())[:max_fields]
            ),
            report_url=report_url,
            dedup_key=f"sreworkbook:{summary.env or 'default'}:{notebook}",
            resolved=summary.status in (Status.OK, Status.SKIPPED)
            if resolved is None
            else resolved,
            source=summary.env or "sreworkbook",
            report_path=report_path,
            details=details,
        )

    def scrubbed(self, scrubber: Scrubber) -> Notification:
        """A copy with every known secret value masked, in the text and in ``details``.

        For a message built from an in-memory summary before the run pipeline scrubbed it.
        """
        return replace(
            self,
            title=scrubber.scrub(self.title),
            headline=scrubber.scrub(self.headline),
            summary=scrubber.scrub(self.summary),
            fields=tuple((scrubber.scrub(k), scrubber.scrub(v)) for k, v in self.fields),
            report_url=scrubber.scrub(self.report_url),
            details=_scrub_tree(self.details, scrubber),
        )

    @property
    def label(self) -> str:
        """``RESOLVED`` for a resolving message, else the status: the word subjects lead with."""
        return "RESOLVED" if self.resolved else self.status.value

    def to_dict(self) -> dict[str, Any]:
        """The notification as JSON-ready data (the webhook body)."""
        return {
            "title": self.title,
            "status": self.status.value,
            "severity": severity_of(self.status),
            "headline": self.headline,
            "summary": self.summary,
            "fields": dict(self.fields),
            "report_url": self.report_url,
            "dedup_key": self.dedup_key,
            "resolved": self.resolved,
            "source": self.source,
            "run": dict(self.details),
        }


def _scrub_tree(node: Any, scrubber: Scrubber) -> Any:
    if isinstance(node, str):
        return scrubber.scrub(node)
    if isinstance(node, Mapping):
        return {key: _scrub_tree(value, scrubber) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_scrub_tree(value, scrubber) for value in node]
    return node


@dataclass(frozen=True)
class Delivery:
    """What came of one send. ``status_code`` is the HTTP status or SMTP reply code, if any."""

    notifier: str
    ok: bool
    attempts: int
    status_code: int | None = None
    detail: str = ""
    waited_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return record(self, waited_s=round(self.waited_s, 3))

    def to_finding(self) -> Finding:
        """A finding for the run summary: WARN when the notification did not get through."""
        if self.ok:
            return Finding(Status.OK, f"{self.notifier} notification delivered", self.detail)
        return Finding(Status.WARN, f"{self.notifier} notification failed", self.detail)


@runtime_checkable
class Notifier(Protocol):
    """Anything that delivers a :class:`Notification`. ``send`` never raises."""

    name: str

    def send(self, message: Notification) -> Delivery: ...


def scrubber_for(secrets: Iterable[str | None]) -> Scrubber:
    """A scrubber for resolved secret values, and for the path and query of secret URLs."""
    values: list[str] = []
    for value in secrets:
        if not value:
            continue
        values.append(value)
        parts = urlsplit(value)
        if parts.scheme and parts.netloc:
            values.extend(part for part in (parts.path, parts.query) if len(part) > 1)
            if parts.password:
                values.append(parts.password)
    return Scrubber(values)


def masked_target(value: str) -> str:
    """A secret URL safe to show: a reference as is, else scheme and host with the rest masked."""
    if references(value):
        return value
    parts = urlsplit(value)
    if parts.scheme and parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}/{MASK}"
    return MASK


def resolve_failure(notifier: str, problem: str) -> Delivery:
    """The delivery for a notifier that could not even start (a secret not set, bad input)."""
    return Delivery(notifier, False, 0, None, problem)
