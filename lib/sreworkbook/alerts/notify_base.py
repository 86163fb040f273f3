"""What a notifier sends and returns, and the retrying JSON-over-HTTP transport they share.

A :class:`Notification` is channel-neutral; each notifier renders it (Slack blocks, an e-mail,
a PagerDuty event, a webhook body). A :class:`Delivery` is what came of one send: a failed
delivery is a result, never an exception, and its ``detail`` never holds a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests

from sreworkbook.exceptions import ParameterError
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.secrets import MASK, Scrubber, references

__all__ = [
    "USER_AGENT",
    "Delivery",
    "Notification",
    "Notifier",
    "RetryPolicy",
    "format_value",
    "post_json",
    "severity_of",
]

USER_AGENT = "sreworkbook-notify/1"

_SEVERITY = {
    Status.CRIT: "critical",
    Status.ERROR: "error",
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
        return {
            "notifier": self.notifier,
            "ok": self.ok,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "detail": self.detail,
            "waited_s": round(self.waited_s, 3),
        }

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


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout and retries: exponential backoff on 429, 5xx and connection errors.

    A 429's ``Retry-After`` is honoured when it is at most ``max_retry_after_s``; a longer
    one ends the delivery at once (waiting less would only be refused again).
    """

    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ParameterError("must be positive", key="timeout_s")
        if self.retries < 0:
            raise ParameterError("must be 0 or more", key="retries")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or self.max_retry_after_s < 0:
            raise ParameterError("backoff and waits must be 0 or more", key="backoff_s")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...): 1, 2, 4, ... capped."""
        return float(min(self.backoff_s * 2 ** (retry - 1), self.max_backoff_s))


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


def _where(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.hostname or 'the server'}{port}"


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), if present."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    base_header = response.headers.get("Date", "")
    try:
        base = parsedate_to_datetime(base_header) if base_header else datetime.now(UTC)
    except (TypeError, ValueError):
        base = datetime.now(UTC)
    if when.tzinfo is None or base.tzinfo is None:
        return None
    return max(0.0, (when - base).total_seconds())


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Decides a final (non-retried) answer: (delivered?, what to say).
Judge = Callable[[requests.Response], tuple[bool, str]]


def judge_2xx(response: requests.Response) -> tuple[bool, str]:
    """Any 2xx is delivered; otherwise the status and the start of the body."""
    body = _snippet(response.text)
    if 200 <= response.status_code < 300:
        return True, f"HTTP {response.status_code}" + (f": {body}" if body else "")
    return False, f"HTTP {response.status_code}" + (f": {body}" if body else "")


def post_json(
    notifier: str,
    url: str,
    payload: Mapping[str, Any],
    *,
    policy: RetryPolicy,
    session: requests.Session | None,
    sleep: Callable[[float], None],
    scrubber: Scrubber,
    judge: Judge = judge_2xx,
    headers: Mapping[str, str] | None = None,
) -> Delivery:
    """POST ``payload`` as JSON with retries; the outcome as a :class:`Delivery`, never raising.

    Without a ``session`` a private one is opened and closed for this call.
    """
    body = json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    all_headers.update(headers or {})
    if session is None:
        with requests.Session() as private:
            return _post(notifier, url, body, all_headers, policy, private, sleep, scrubber, judge)
    return _post(notifier, url, body, all_headers, policy, session, sleep, scrubber, judge)


def _post(
    notifier: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    session: requests.Session,
    sleep: Callable[[float], None],
    scrubber: Scrubber,
    judge: Judge,
) -> Delivery:
    attempts, waited = 0, 0.0
    status: int | None = None
    problem = ""
    pause: float | None = None
    for attempt in range(policy.retries + 1):
        if attempt:
            wait = policy.backoff(attempt) if pause is None else pause
            sleep(wait)
            waited += wait
        attempts += 1
        pause = None
        try:
            response = session.post(url, data=body, headers=dict(headers), timeout=policy.timeout_s)
        except requests.Timeout:
            status = None
            problem = f"no answer from {_where(url)} within {policy.timeout_s:g} s"
            continue
        except requests.ConnectionError as exc:
            status = None
            problem = f"cannot connect to {_where(url)} ({type(exc).__name__})"
            continue
        except requests.RequestException as exc:  # a bad URL, too many redirects: not transient
            detail = f"request not sent ({type(exc).__name__})"
            return Delivery(notifier, False, attempts, None, scrubber.scrub(detail), waited)
        with response:
            status = response.status_code
            if status == 429 or 500 <= status <= 599:
                pause = _retry_after(response)
                problem = f"HTTP {status}" + (
                    f": {_snippet(response.text)}" if response.text else ""
                )
                if pause is not None and pause > policy.max_retry_after_s:
                    detail = (
                        f"{problem}; Retry-After {pause:g} s is longer than the "
                        f"{policy.max_retry_after_s:g} s this notifier waits"
                    )
                    return Delivery(
                        notifier, False, attempts, status, scrubber.scrub(detail), waited
                    )
                continue
            ok, detail = judge(response)
        return Delivery(notifier, ok, attempts, status, scrubber.scrub(detail), waited)
    detail = f"{problem}; gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
    return Delivery(notifier, False, attempts, status, scrubber.scrub(detail), waited)


def resolve_failure(notifier: str, problem: str) -> Delivery:
    """The delivery for a notifier that could not even start (a secret not set, bad input)."""
    return Delivery(notifier, False, 0, None, problem)
