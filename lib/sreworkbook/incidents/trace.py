"""Follow one request by its correlation ID; list the slowest and failing requests near a time."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from sreworkbook.exceptions import ParameterError
from sreworkbook.incidents.errors import rfc3339, route_of
from sreworkbook.sources.logs import (
    DEFAULT_LAYOUT,
    LogFilter,
    LogLayout,
    LogStore,
    ScanStats,
    read_logs,
)
from sreworkbook.timeutil import human_time

__all__ = ["RequestsAround", "Trace", "requests_around", "trace"]


@dataclass(frozen=True)
class Trace:
    """Every line of one request in time order, with ``step_ms`` (since the line before) and
    ``elapsed_ms`` (since the first line)."""

    correlation_id: str
    frame: pd.DataFrame
    stats: ScanStats

    @property
    def lines(self) -> int:
        return len(self.frame)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.frame["service"].dropna().astype(str)))

    @property
    def duration_ms(self) -> float:
        return float(self.frame["elapsed_ms"].iloc[-1]) if self.lines else 0.0

    @property
    def status(self) -> int | None:
        codes = self.frame["statusCode"].dropna()
        return int(codes.iloc[-1]) if len(codes) else None

    @property
    def failed(self) -> bool:
        return bool((self.frame["level"] == "error").any() or (self.status or 0) >= 500)

    def records(self) -> list[dict[str, Any]]:
        """The lines as written, each with the normalised ``ts`` in RFC 3339 added."""
        return [
            {**raw, "ts": rfc3339(ts)}
            for raw, ts in zip(self.frame["raw"], self.frame["ts"], strict=True)
        ]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{human_time(r['ts'], seconds=True)}</td><td>+{r['step_ms']:.0f} ms</td>"
            f"<td>{html.escape(str(r['service']))}</td><td>{html.escape(str(r['level']))}</td>"
            f"<td>{html.escape(str(r['message']))}</td></tr>"
            for r in self.frame.to_dict("records")
        )
        head = (
            f"<p>{self.lines} lines, {len(self.services)} services, {self.duration_ms:.0f} ms, "
            f"status {self.status if self.status is not None else '—'}</p>"
        )
        return f"{head}<table><tbody>{rows}</tbody></table>"


def trace(
    store: LogStore,
    correlation_id: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    layout: LogLayout = DEFAULT_LAYOUT,
) -> Trace:
    """The lines of request ``correlation_id`` across files and services (all files if no window)."""
    cid = correlation_id.strip()
    if not cid:
        raise ParameterError("must not be empty", key="correlation_id")
    read = read_logs(
        store, LogFilter(start=start, end=end, correlation_id=cid), layout=layout, keep_raw=True
    )
    frame = read.frame
    if len(frame):
        millis = (frame["ts"] - frame["ts"].iloc[0]).dt.total_seconds() * 1000.0
        frame = frame.assign(elapsed_ms=millis, step_ms=millis.diff().fillna(0.0))
    else:
        frame = frame.assign(elapsed_ms=pd.Series(dtype=float), step_ms=pd.Series(dtype=float))
    return Trace(cid, frame, read.stats)


@dataclass(frozen=True)
class RequestsAround:
    """Completed requests (lines with a status code) near ``at``: slowest and failing first."""

    at: datetime
    route: str | None
    start: datetime
    end: datetime
    slowest: pd.DataFrame
    failing: pd.DataFrame
    requests: int
    stats: ScanStats


def requests_around(
    store: LogStore,
    at: datetime,
    route: str | None = None,
    *,
    before: timedelta = timedelta(minutes=5),
    after: timedelta = timedelta(minutes=5),
    limit: int = 10,
    layout: LogLayout = DEFAULT_LAYOUT,
) -> RequestsAround:
    """The ``limit`` slowest and failing (5xx) requests of ``route`` within the window around ``at``."""
    if limit < 1:
        raise ParameterError("must be at least 1", key="limit")
    start, end = at - before, at + after
    filt = LogFilter(start=start, end=end, routes=frozenset({route} if route else ()))
    read = read_logs(store, filt, layout=layout, extras=False)
    done = read.frame[read.frame["statusCode"].notna()]
    done = done.assign(route=route_of(done))
    columns = ["ts", "correlationId", "method", "route", "url", "statusCode", "duration_ms",
               "userId", "service", "file"]  # fmt: skip
    slowest = done.sort_values("duration_ms", ascending=False, kind="stable").head(limit)
    failing = done[done["statusCode"] >= 500].sort_values("ts", kind="stable").head(limit)
    return RequestsAround(
        at,
        route,
        start,
        end,
        slowest[columns].reset_index(drop=True),
        failing[columns].reset_index(drop=True),
        len(done),
        read.stats,
    )
