"""The incident explorer: pick the window and the incident, read what the logs say, judge it.

:func:`explore` turns the notebook's parameters into an :class:`Exploration`: the incident
summary of the window in focus, the error rate around it, one traced request, the slowest and
failing requests near the start, and the lines a search asks for. The focus is, in order: the
incident named; else the most recent known incident overlapping the window; else the whole
window, with the minute of most failures as the point to look at. Bad parameters raise
:class:`~sreworkbook.exceptions.ParameterError` naming the parameter; logs that cannot be read
(no ``logs:`` section, a missing folder, no file for the window) make the status UNKNOWN.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from sreworkbook import timeutil
from sreworkbook.config import Environment, LogsConfig
from sreworkbook.edges.http import printable
from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError
from sreworkbook.incidents.summary import IncidentSummary, summarise
from sreworkbook.incidents.trace import RequestsAround, Trace, requests_around, trace
from sreworkbook.known_incidents import Incident, overlapping
from sreworkbook.results import Finding, Status
from sreworkbook.sources.logs import (
    DEFAULT_LAYOUT,
    LogFilter,
    LogStore,
    ScanStats,
    open_log_store,
    read_logs,
    select_files,
)
from sreworkbook.timeutil import human_span, human_time

__all__ = [
    "LEVELS",
    "SEARCH_ROWS",
    "Exploration",
    "Focus",
    "explore",
    "pick_incident",
    "resolve_span",
    "search",
]

#: Winston's npm levels, most severe first.
LEVELS = ("error", "warn", "info", "http", "verbose", "debug", "silly")
#: Lines of a search kept for the report (the counts per minute cover them all).
SEARCH_ROWS = 500
_SEARCH_COLUMNS = ["ts", "level", "message", "method", "url", "statusCode", "duration_ms",
                   "correlationId", "userId", "service"]  # fmt: skip


def resolve_span(*, start: str, end: str, window: str, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` from the parameters: ``end`` defaults to now, ``start`` to end − window."""
    return timeutil.window(start=start, end=end, length=window, now=now)


def pick_incident(
    known: Sequence[Incident], name: str, start: datetime, end: datetime
) -> Incident | None:
    """The incident named (wherever it lies), else the most recent one overlapping the window."""
    if name:
        found = [i for i in known if i.name == name]
        if not found:
            names = ", ".join(sorted({i.name for i in known})) or "none are known"
            raise ParameterError(
                f"unknown incident {name!r}, did you mean one of: {names}", key="incident"
            )
        return max(found, key=lambda i: i.start)
    inside = overlapping(known, start, end)
    return max(inside, key=lambda i: i.start) if inside else None


def _levels(text: str) -> frozenset[str]:
    levels = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = sorted(levels - set(LEVELS))
    if unknown:
        raise ParameterError(
            f"unknown level {', '.join(unknown)}, did you mean one of: {', '.join(LEVELS)}",
            key="level",
        )
    return levels


@dataclass(frozen=True)
class Focus:
    """The window analysed, the wider one charted, and the moment to look around."""

    start: datetime
    end: datetime
    context_start: datetime
    context_end: datetime
    at: datetime | None
    incident: Incident | None = None
    label: str = ""

    def window(self) -> str:
        return human_span(self.start, self.end)


@dataclass(frozen=True)
class Exploration:
    """What the logs say about the focus; ``problem`` is set when they could not be read."""

    location: str
    focus: Focus
    error_rate_crit: float
    summary: IncidentSummary | None = None
    context: IncidentSummary | None = None
    trace: Trace | None = None
    around: RequestsAround | None = None
    search: pd.DataFrame = field(default_factory=pd.DataFrame)
    search_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    search_label: str = ""
    problem: str = ""
    store: LogStore | None = field(default=None, repr=False, compare=False)

    @property
    def failed_share(self) -> float | None:
        s = self.summary
        return s.failed_requests / s.requests if s is not None and s.requests else None

    @property
    def status(self) -> Status:
        if self.problem or self.summary is None:
            return Status.UNKNOWN
        if (self.failed_share or 0.0) > self.error_rate_crit:
            return Status.CRIT
        return Status.WARN if self.summary.groups else Status.OK

    @property
    def headline(self) -> str:
        s, where = self.summary, self.focus.label or "The window"
        if self.problem or s is None:
            return f"{where} {self.focus.window()}: logs unreadable — {self.problem}."
        if not s.errors and not s.failed_requests:
            return f"{where} {self.focus.window()}: no errors in {s.requests:,} logged requests."
        routes = f" on {s.affected_routes[0][0]}" if s.affected_routes else ""
        error = ""
        if s.groups:
            top = s.groups[0]
            name = top.group if len(top.group) <= 70 else top.group[:69] + "…"
            error = f"; top error {name!r} ({top.count}×){routes}"
        first = (
            f", the first at {human_time(s.first_error_at, seconds=True)}"
            if s.first_error_at
            else ""
        )
        return (
            f"{where} {self.focus.window()}: {s.failed_requests:,} of {s.requests:,} logged "
            f"requests failed ({self.failed_share or 0:.1%}){error}{first}."
        )

    def metrics(self) -> dict[str, float]:
        """The run summary's numbers (only ``lines_scanned`` when the logs were unreadable)."""
        if self.summary is None:
            return {"lines_scanned": 0.0}
        metrics = dict(self.summary.metrics)
        metrics["error_rate"] = self.failed_share or 0.0
        if self.trace is not None:
            metrics["trace_lines"] = float(self.trace.lines)
        return metrics

    def findings(self) -> tuple[Finding, ...]:
        """CRIT above the error-rate threshold, WARN per top error group, UNKNOWN if unread."""
        if self.problem or self.summary is None:
            return (Finding(Status.UNKNOWN, "Logs unreadable", self.problem),)
        found: list[Finding] = []
        share = self.failed_share
        if share is not None and share > self.error_rate_crit:
            found.append(
                Finding(
                    Status.CRIT,
                    "Failed requests above threshold",
                    f"{share:.2%} of {self.summary.requests:,} logged requests failed "
                    f"(threshold {self.error_rate_crit:.0%}) {self.focus.window()}",
                )
            )
        found.extend(self.summary.findings())
        if self.trace is not None and not self.trace.lines:
            found.append(
                Finding(
                    Status.WARN, "Request not found", f"no lines for {self.trace.correlation_id}"
                )
            )
        return tuple(found)

    def _repr_html_(self) -> str:
        s = self.summary
        rows: list[tuple[str, str]] = [("window", self.focus.window()), ("logs", self.location)]
        if self.focus.incident is not None:
            rows.append(
                ("incident", f"{self.focus.incident.name}: {self.focus.incident.description}")
            )
        if s is not None and s.first_error_at is not None:
            rows.append(
                ("first error", f"{human_time(s.first_error_at, seconds=True)} {s.first_error}")
            )
        if s is not None:
            rows.append(("failed requests", f"{s.failed_requests:,} of {s.requests:,} logged"))
            groups = "; ".join(f"{g.group} ({g.count}×)" for g in s.groups[:3])
            rows.append(("dominant errors", groups or "none"))
            routes = ", ".join(f"{r} ({n})" for r, n in s.affected_routes[:5])
            rows.append(("affected routes", routes or "none"))
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        colour = self.status.colour
        return (
            f"<p><b style='color:{colour}'>{self.status.value}</b> {html.escape(self.headline)}</p>"
            f"<table>{cells}</table>"
        )


def explore(
    environment: Environment,
    *,
    root: Path,
    now: datetime,
    window: str = "24h",
    start: str = "",
    end: str = "",
    incident: str = "",
    correlation_id: str = "",
    route: str = "",
    level: str = "",
    text: str = "",
    known: Sequence[Incident] = (),
    store: LogStore | None = None,
) -> Exploration:
    """Everything the explorer shows, from the environment's logs (or ``store``)."""
    span = resolve_span(start=start, end=end, window=window, now=now)
    chosen = pick_incident(known, incident.strip(), *span)
    levels = _levels(level)
    crit = environment.thresholds.error_rate_crit
    focus = _incident_focus(chosen, incident.strip()) if chosen else Focus(*span, *span, None)
    location = ""
    if store is None:
        if environment.logs is None:
            return Exploration("", focus, crit, problem="the environment has no logs: section")
        try:
            store, location = _store(environment.logs, root)
        except MissingFileError as exc:
            return Exploration(exc.path, focus, crit, problem=str(exc))
    location = location or store.description
    try:
        files = select_files(store.list(), DEFAULT_LAYOUT, focus.start, focus.end)
    except SourceError as exc:
        return Exploration(location, focus, crit, problem=str(exc), store=store)
    if not files:
        problem = f"no log file covers it in {location}"
        return Exploration(location, focus, crit, problem=problem, store=store)
    summary = summarise(store, focus.start, focus.end, keep_requests=chosen is None)
    unreadable = _unreadable(summary.stats)
    if unreadable:
        return Exploration(location, focus, crit, problem=unreadable, store=store)
    context = summary
    if chosen is None:
        focus = _worst_minute(summary, focus)
    else:
        context = summarise(store, focus.context_start, focus.context_end, keep_requests=True)
    found_trace = _trace(store, focus, summary, correlation_id.strip())
    around = None
    if focus.at is not None:
        around = requests_around(
            store, focus.at, route or None, before=timedelta(minutes=5), after=timedelta(minutes=10)
        )
    lines, counts, label = search(
        store, focus.start, focus.end, levels=levels, text=text, route=route
    )
    return Exploration(
        location,
        focus,
        crit,
        summary,
        context,
        found_trace,
        around,
        lines,
        counts,
        label,
        "",
        store,
    )


def _unreadable(stats: ScanStats) -> str:
    """Why logs of which not one line could be parsed say nothing (random bytes, another
    format), or ``""`` when some line was read."""
    if not stats.lines_scanned or stats.malformed_lines < stats.lines_scanned:
        return ""
    example = stats.malformed_examples[0] if stats.malformed_examples else ""
    damaged = f"; damaged: {', '.join(stats.damaged_files)}" if stats.damaged_files else ""
    return (
        f"none of the {stats.lines_scanned:,} lines in {len(stats.files)} file"
        f"{'' if len(stats.files) == 1 else 's'} is a JSON log line{damaged}"
        + (f", e.g. {printable(example)!r}" if example else "")
    )


def _store(logs: LogsConfig, root: Path) -> tuple[LogStore, str]:
    where = logs.dir
    if where.startswith("s3://"):
        return open_log_store(where), where
    path = Path(where) if Path(where).is_absolute() else root / where
    return open_log_store(path), str(path)


def _incident_focus(incident: Incident, named: str) -> Focus:
    pad = max(timedelta(minutes=15), (incident.end - incident.start) / 2)
    how = "Incident" if named else "Most recent incident in the window,"
    return Focus(
        incident.start,
        incident.end,
        incident.start - pad,
        incident.end + pad,
        incident.start,
        incident,
        f"{how} {incident.name}",
    )


def _worst_minute(summary: IncidentSummary, focus: Focus) -> Focus:
    """``focus`` pointed at the minute with the most failed requests and error lines."""
    rate = summary.rate
    score = rate["failed"] + rate["errors"]
    if rate.empty or score.max() <= 0:
        return focus
    minute = pd.Timestamp(rate["bucket"].iloc[int(score.to_numpy().argmax())]).to_pydatetime(
        warn=False
    )
    label = f"Worst error minute {human_time(minute)} in"
    return Focus(
        focus.start, focus.end, focus.context_start, focus.context_end, minute, None, label
    )


def _trace(store: LogStore, focus: Focus, summary: IncidentSummary, given: str) -> Trace | None:
    """The request asked for, else the first failing one (of the worst minute, without incident)."""
    cid = given
    if not cid and focus.incident is None and focus.at is not None:
        cid = summarise(store, focus.at, focus.at + timedelta(minutes=1)).first_failed_id or ""
    cid = cid or summary.first_failed_id or ""
    if not cid:
        return None
    margin = timedelta(hours=1)
    return trace(store, cid, start=focus.context_start - margin, end=focus.context_end + margin)


def search(
    store: LogStore,
    start: datetime,
    end: datetime,
    *,
    levels: frozenset[str] = frozenset(),
    text: str = "",
    route: str = "",
    correlation_id: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The first :data:`SEARCH_ROWS` matching lines, all of them counted per minute and level,
    and a label saying what was searched for. No level and no text: errors and warnings."""
    chosen = levels or (frozenset() if text or correlation_id else frozenset({"error", "warn"}))
    filt = LogFilter.of(start=start, end=end, level=chosen, text=text, route=route,
                        correlation_id=correlation_id)  # fmt: skip
    frame = read_logs(store, filt, extras=False).frame
    counts = (
        frame.assign(minute=frame["ts"].dt.floor("1min"))
        .groupby(["minute", "level"])
        .size()
        .rename("lines")
        .reset_index()
    )
    parts = [f"level {', '.join(sorted(chosen))}"] if chosen else []
    parts += [f"text {text!r}"] if text else []
    parts += [f"route {route}"] if route else []
    parts += [f"correlation ID {correlation_id}"] if correlation_id else []
    label = "; ".join(parts) or "any line"
    return frame[_SEARCH_COLUMNS].head(SEARCH_ROWS), counts, label
