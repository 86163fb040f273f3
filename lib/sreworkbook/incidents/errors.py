"""Error groups: error lines grouped by their cause — the message with the variable parts taken
out and, where the line has a stack, its first frame (the same words thrown from two places
are two causes). A request-completion line (one with a ``statusCode``) logged at error level
says a request failed, not why: it is counted as a failed request of its route, never grouped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from sreworkbook import timeutil
from sreworkbook.sources.logs import (
    DEFAULT_LAYOUT,
    LogFilter,
    LogLayout,
    LogStore,
    ScanStats,
    read_logs,
)

__all__ = [
    "ERROR_LEVELS",
    "ErrorGroup",
    "ErrorReport",
    "completion_lines",
    "error_groups",
    "first_frame",
    "group_errors",
    "normalise_message",
    "rfc3339",
]

#: Levels counted as errors: Winston's npm levels have only ``error`` above ``warn``.
ERROR_LEVELS = frozenset({"error"})

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'"[^"\n]*"|(?<!\w)\'[^\'\n]*\'(?!\w)|`[^`\n]*`'), "<str>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalise_message(message: object) -> str:
    """``message`` with quoted values, UUIDs, hex and numbers replaced by placeholders.

    >>> normalise_message('AI service responded with status 503 for model "lstm-v3"')
    'AI service responded with status <n> for model <str>'
    """
    text = str(message) if message is not None else ""
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()


def first_frame(stack: object) -> str | None:
    """The first ``at ...`` frame of a stack trace, without its indentation (None without one).

    >>> first_frame("Error: boom\\n    at TradeService.enrich (/app/src/trade.js:88:31)\\n    at x")
    'at TradeService.enrich (/app/src/trade.js:88:31)'
    """
    if not isinstance(stack, str):
        return None
    for line in stack.splitlines():
        line = line.strip()
        if line.startswith("at "):
            return line
    return None


def completion_lines(frame: pd.DataFrame) -> pd.Series:
    """True for request-completion lines: those that carry the request's ``statusCode``."""
    if "statusCode" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["statusCode"].notna()


def rfc3339(ts: datetime | pd.Timestamp) -> str:
    """``2024-03-11T14:00:00.123Z``: UTC, always with milliseconds (log lines carry them)."""
    return timeutil.rfc3339(ts, timespec="milliseconds")


@dataclass(frozen=True)
class ErrorGroup:
    """Error lines of one cause: equal normalised messages thrown from the same first frame."""

    group: str
    count: int
    first_seen: datetime
    last_seen: datetime
    example: str
    example_stack: str | None
    routes: tuple[tuple[str, int], ...]  # route (or URL path) → lines, most first
    users: tuple[tuple[str, int], ...]
    services: tuple[str, ...]
    requests: int  # distinct correlation IDs
    frame: str | None = None  # the stack's first frame ("at fn (file:line:col)"), if any

    def to_dict(self) -> dict[str, object]:
        """The CLI's ``--json`` shape."""
        return {
            "group": self.group,
            "count": self.count,
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "example": self.example,
            "frame": self.frame,
        }


@dataclass(frozen=True)
class ErrorReport:
    """Error groups of a window, largest first, and what reading them took."""

    start: datetime | None
    end: datetime | None
    groups: tuple[ErrorGroup, ...]
    stats: ScanStats

    @property
    def errors(self) -> int:
        return sum(g.count for g in self.groups)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{g.count}</td><td>{timeutil.human_time(g.first_seen, seconds=True)}</td>"
            f"<td>{timeutil.human_time(g.last_seen, seconds=True)}</td>"
            f"<td>{html.escape(g.group)}</td><td>{html.escape(', '.join(r for r, _ in g.routes[:3]))}"
            f"</td></tr>"
            for g in self.groups
        )
        return (
            "<table><thead><tr><th>count</th><th>first seen</th><th>last seen</th><th>group</th>"
            f"<th>routes</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def _top(values: pd.Series, limit: int = 10) -> tuple[tuple[str, int], ...]:
    counts = values.dropna().astype(str).value_counts()
    return tuple((str(k), int(v)) for k, v in counts.head(limit).items())


def route_of(frame: pd.DataFrame) -> pd.Series:
    """The route of each record, else its URL path."""
    paths = frame["url"].map(lambda u: u.split("?", 1)[0] if isinstance(u, str) else None)
    return frame["route"].where(frame["route"].notna(), paths)


def group_errors(
    frame: pd.DataFrame, *, levels: Iterable[str] = ERROR_LEVELS
) -> tuple[ErrorGroup, ...]:
    """The error groups of a log frame (from :func:`~sreworkbook.sources.logs.read_logs`), by
    cause; completion lines (with a ``statusCode``) are requests, not causes, and are left out."""
    errors = frame[frame["level"].isin(frozenset(levels)) & ~completion_lines(frame)]
    if errors.empty:
        return ()
    errors = errors.assign(
        _group=errors["message"].map(normalise_message),
        _frame=errors["stack"].map(first_frame).fillna(""),
        _route=route_of(errors),
    )
    groups = []
    for (key, where), rows in errors.groupby(["_group", "_frame"], sort=False):
        stacks = rows["stack"].dropna()
        groups.append(
            ErrorGroup(
                frame=str(where) or None,
                group=str(key),
                count=len(rows),
                first_seen=rows["ts"].min().to_pydatetime(warn=False),
                last_seen=rows["ts"].max().to_pydatetime(warn=False),
                example=str(rows["message"].iloc[0]),
                example_stack=str(stacks.iloc[0]) if len(stacks) else None,
                routes=_top(rows["_route"]),
                users=_top(rows["userId"]),
                services=tuple(sorted(rows["service"].dropna().astype(str).unique())),
                requests=int(rows["correlationId"].nunique()),
            )
        )
    return tuple(sorted(groups, key=lambda g: (-g.count, g.first_seen, g.group)))


def error_groups(
    store: LogStore,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    layout: LogLayout = DEFAULT_LAYOUT,
    levels: Iterable[str] = ERROR_LEVELS,
    service: str | None = None,
) -> ErrorReport:
    """Error groups of ``[start, end)``; only the error lines are parsed (a bytes pre-filter)."""
    wanted = frozenset(level.lower() for level in levels)
    filt = LogFilter(
        start=start, end=end, levels=wanted, services=frozenset({service} if service else ())
    )
    read = read_logs(store, filt, layout=layout)
    return ErrorReport(start, end, group_errors(read.frame, levels=wanted), read.stats)
