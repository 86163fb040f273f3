"""One streaming pass over an incident window: error rate over time and the incident summary.

The error rate of a bucket is failed requests (a line with ``statusCode`` ≥ 500) over requests
(lines with a ``statusCode``), the ratio the Prometheus alert uses, so the two can be lined up;
``errors`` counts error-level lines that say why (a completion line logged at error level,
one with a ``statusCode``, is a failed request of its route, with its status, not an error).
The failed-request estimate counts distinct correlation
IDs that have a 5xx or an error line, plus 5xx lines without an ID; error lines without an ID
(a background job, a lost connection) are errors but not failed requests. The first failing
request is the one whose failing line comes first; with ``keep_requests`` the summary also keeps
every completed request (time, route, duration, failed) for latency and line-ups.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sreworkbook.exceptions import ParameterError
from sreworkbook.incidents.errors import ERROR_LEVELS, ErrorGroup, group_errors, route_of
from sreworkbook.results import Finding, Status
from sreworkbook.sources.logs import (
    DEFAULT_LAYOUT,
    LogFilter,
    LogLayout,
    LogScanner,
    LogStore,
    ScanStats,
)
from sreworkbook.timeutil import human_span, human_time

__all__ = ["ErrorRate", "IncidentSummary", "error_rate", "summarise"]

_KEEP = ["ts", "level", "message", "stack", "route", "url", "userId", "service", "correlationId"]


@dataclass(frozen=True)
class ErrorRate:
    """Per bucket: ``requests``, ``failed``, ``errors`` and ``error_rate`` (failed / requests)."""

    frame: pd.DataFrame
    bucket: timedelta
    stats: ScanStats


@dataclass
class _Pass:
    """What one scan of a window accumulates, chunk by chunk (bounded by the error lines)."""

    bucket: timedelta
    levels: frozenset[str]
    counts: list[pd.DataFrame] = field(default_factory=list)
    errors: list[pd.DataFrame] = field(default_factory=list)
    failed_ids: set[str] = field(default_factory=set)
    failed_without_id: int = 0
    route_ids: dict[str, set[str]] = field(default_factory=dict)
    route_anonymous: Counter[str] = field(default_factory=Counter)
    route_statuses: dict[str, Counter[int]] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    user_ids: dict[str, set[str]] = field(default_factory=dict)
    first_failed: tuple[pd.Timestamp, str] | None = None
    keep_requests: bool = False
    completed: list[pd.DataFrame] = field(default_factory=list)

    def add(self, frame: pd.DataFrame) -> None:
        status = frame["statusCode"]
        request = status.notna().to_numpy(dtype=bool)
        failed = (status.fillna(0) >= 500).to_numpy(dtype=bool)
        error = frame["level"].isin(self.levels).to_numpy(dtype=bool) & ~request
        buckets = frame["ts"].dt.floor(pd.Timedelta(self.bucket))
        flags = pd.DataFrame(
            {"requests": request, "failed": failed, "errors": error},
            index=pd.DatetimeIndex(buckets),
        )
        self.counts.append(flags.groupby(level=0).sum())
        if error.any():
            self.errors.append(frame.loc[error, _KEEP])
        has_id = frame["correlationId"].notna().to_numpy(dtype=bool)
        bad = frame[failed | (error & has_id)]
        self.failed_ids.update(bad["correlationId"].dropna().astype(str))
        self.failed_without_id += int((failed & ~has_id).sum())
        self.users.update(bad["userId"].dropna().astype(str))
        self._first_failed(bad)
        for user, cid in zip(bad["userId"], bad["correlationId"], strict=True):
            if isinstance(user, str) and isinstance(cid, str):
                self.user_ids.setdefault(user, set()).add(cid)
        if self.keep_requests and request.any():
            done = frame[request]
            self.completed.append(
                pd.DataFrame(
                    {
                        "ts": done["ts"],
                        "route": route_of(done),
                        "duration_ms": done["duration_ms"],
                        "failed": failed[request],
                    }
                )
            )
        done_badly = frame[failed]
        for route, code in zip(route_of(done_badly), done_badly["statusCode"], strict=True):
            if isinstance(route, str):
                self.route_statuses.setdefault(route, Counter())[int(code)] += 1
        for route, cid in zip(route_of(bad), bad["correlationId"], strict=True):
            if route is None or route != route:
                continue
            if isinstance(cid, str):
                self.route_ids.setdefault(str(route), set()).add(cid)
            else:
                self.route_anonymous[str(route)] += 1

    def _first_failed(self, bad: pd.DataFrame) -> None:
        named = bad[bad["correlationId"].notna()]
        if named.empty:
            return
        at = int(named["ts"].to_numpy().argmin())  # the first of equal times: the file's order
        when, cid = named["ts"].iloc[at], str(named["correlationId"].iloc[at])
        if self.first_failed is None or when < self.first_failed[0]:
            self.first_failed = (when, cid)

    def requests_frame(self) -> pd.DataFrame:
        """Every completed request seen (``keep_requests``), in time order."""
        if not self.completed:
            return pd.DataFrame(
                {
                    "ts": pd.Series(dtype="datetime64[ns, UTC]"),
                    "route": pd.Series(dtype=object),
                    "duration_ms": pd.Series(dtype="float64"),
                    "failed": pd.Series(dtype=bool),
                }
            )
        frame = pd.concat(self.completed, ignore_index=True)
        return frame.sort_values("ts", kind="stable", ignore_index=True)

    def rate(self, start: datetime, end: datetime) -> pd.DataFrame:
        step = pd.Timedelta(self.bucket)
        index = pd.date_range(pd.Timestamp(start).floor(step), end, freq=step, inclusive="left")
        total = pd.DataFrame(
            0, index=index, columns=["requests", "failed", "errors"], dtype="int64"
        )
        for part in self.counts:
            total = total.add(part, fill_value=0)
        total = total.astype("int64")
        total["error_rate"] = total["failed"] / total["requests"].where(total["requests"] > 0)
        return total.rename_axis("bucket").reset_index()


def _scan(
    store: LogStore,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    levels: Iterable[str],
    layout: LogLayout,
    keep_requests: bool = False,
) -> tuple[_Pass, ScanStats]:
    if bucket <= timedelta(0):
        raise ParameterError("must be positive", key="bucket")
    scanner = LogScanner(store, LogFilter(start=start, end=end), layout=layout, extras=False)
    acc = _Pass(bucket, frozenset(level.lower() for level in levels), keep_requests=keep_requests)
    for frame in scanner.frames():
        acc.add(frame)
    return acc, scanner.stats


def error_rate(
    store: LogStore,
    start: datetime,
    end: datetime,
    *,
    bucket: timedelta = timedelta(minutes=1),
    levels: Iterable[str] = ERROR_LEVELS,
    layout: LogLayout = DEFAULT_LAYOUT,
) -> ErrorRate:
    """The error rate of ``[start, end)`` per ``bucket`` (empty buckets included, rate NaN)."""
    acc, stats = _scan(store, start, end, bucket, levels, layout)
    return ErrorRate(acc.rate(start, end), bucket, stats)


@dataclass(frozen=True)
class IncidentSummary:
    """What the logs say about a window: for the report's banner and the notebook."""

    start: datetime
    end: datetime
    requests: int
    failed_requests: int
    errors: int
    first_error_at: datetime | None
    first_error: str | None
    groups: tuple[ErrorGroup, ...]
    affected_routes: tuple[tuple[str, int], ...]  # route → failed requests, most first
    affected_users: int
    rate: pd.DataFrame
    stats: ScanStats
    top_users: tuple[tuple[str, int], ...] = ()  # user → failed requests, most first
    first_failed_id: str | None = None  # the correlation ID of the first failing request
    requests_seen: pd.DataFrame | None = None  # with keep_requests: ts, route, duration_ms, failed
    #: route → the statuses of its failed requests' completion lines, most first
    route_statuses: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        """The run summary's metrics; ``first_error_at`` (epoch seconds) only if there was one."""
        metrics = {
            "lines_scanned": float(self.stats.lines_scanned),
            "malformed_lines": float(self.stats.malformed_lines),
            "errors": float(self.errors),
            "error_groups": float(len(self.groups)),
            "failed_requests": float(self.failed_requests),
            "requests": float(self.requests),
        }
        if self.first_error_at is not None:
            metrics["first_error_at"] = self.first_error_at.timestamp()
        return metrics

    @property
    def headline(self) -> str:
        window = human_span(self.start, self.end)
        if not self.errors and not self.failed_requests:
            return f"No errors in the logs {window} ({self.requests} requests)."
        share = f" ({self.failed_requests / self.requests:.1%})" if self.requests else ""
        top = f"; top error: {self.groups[0].group}" if self.groups else ""
        first = (
            f", first error at {human_time(self.first_error_at, seconds=True)}"
            if self.first_error_at
            else ""
        )
        return f"{self.failed_requests} of {self.requests} requests failed{share} {window}{first}{top}."

    def findings(self, top: int = 3) -> tuple[Finding, ...]:
        found = [
            Finding(
                Status.WARN,
                f"{g.count} × {g.group}",
                f"{human_span(g.first_seen, g.last_seen, seconds=True)}; routes: "
                + (", ".join(f"{r} ({n})" for r, n in g.routes[:3]) or "none"),
            )
            for g in self.groups[:top]
        ]
        if self.stats.malformed_lines:
            found.append(
                Finding(Status.WARN, f"{self.stats.malformed_lines} malformed log lines skipped")
            )
        if self.stats.damaged_files:
            found.append(
                Finding(Status.WARN, "damaged log files", ", ".join(self.stats.damaged_files))
            )
        return tuple(found)

    def _repr_html_(self) -> str:
        items = "".join(
            f"<li>{html.escape(f.title)} — {html.escape(f.detail)}</li>" for f in self.findings()
        )
        return f"<p>{html.escape(self.headline)}</p><ul>{items}</ul>"


def summarise(
    store: LogStore,
    start: datetime,
    end: datetime,
    *,
    bucket: timedelta = timedelta(minutes=1),
    levels: Iterable[str] = ERROR_LEVELS,
    layout: LogLayout = DEFAULT_LAYOUT,
    keep_requests: bool = False,
) -> IncidentSummary:
    """Summarise ``[start, end)`` in one pass: groups, first error, routes, failed requests."""
    acc, stats = _scan(store, start, end, bucket, levels, layout, keep_requests)
    errors = pd.concat(acc.errors, ignore_index=True) if acc.errors else pd.DataFrame(columns=_KEEP)
    errors = errors.sort_values("ts", kind="stable") if len(errors) else errors
    routes = Counter({r: len(ids) for r, ids in acc.route_ids.items()}) + acc.route_anonymous
    rate = acc.rate(start, end)
    return IncidentSummary(
        start=start,
        end=end,
        requests=int(rate["requests"].sum()),
        failed_requests=len(acc.failed_ids) + acc.failed_without_id,
        errors=len(errors),
        first_error_at=errors["ts"].iloc[0].to_pydatetime(warn=False) if len(errors) else None,
        first_error=str(errors["message"].iloc[0]) if len(errors) else None,
        groups=group_errors(errors, levels=acc.levels) if len(errors) else (),
        affected_routes=_ranked(dict(routes)),
        affected_users=len(acc.users),
        rate=rate,
        stats=stats,
        top_users=_ranked({u: len(ids) for u, ids in acc.user_ids.items()}),
        first_failed_id=acc.first_failed[1] if acc.first_failed else None,
        requests_seen=acc.requests_frame() if keep_requests else None,
        route_statuses={
            route: tuple(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])))
            for route, codes in acc.route_statuses.items()
        },
    )


def _ranked(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
