"""Incidents as the responder saw them: ``outputs/incidents/<id>.json``, a page each, and the
index's "Incidents" section.

An :class:`Incident` is one alert group's episode: its alerts, the runbook reports, the
replies sent and the resolution, as events in time order. The responder writes them
(:func:`write_incident`, the JSON and the page); the index reads them (:func:`load_records`,
:func:`incidents_section`): open incidents first, then those of the last 30 days with their
time to resolve.
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sreworkbook.exceptions import OutputError, WorkbookError
from sreworkbook.reports.assets import page_start
from sreworkbook.results import Status, record
from sreworkbook.timeutil import format_duration, human_time, parse_time

__all__ = [
    "FOLDER",
    "Incident",
    "IncidentEvent",
    "incident_page",
    "incidents_section",
    "load_records",
    "write_incident",
]

FOLDER = "incidents"
#: Resolved incidents older than this leave the index (their pages stay).
RECENT_DAYS = 30
_e = html.escape


@dataclass(frozen=True)
class IncidentEvent:
    """One thing that happened: ``kind`` is alert, run, reply, flap or resolved."""

    at: str
    kind: str
    text: str
    status: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    env: str
    opened_at: str
    resolved_at: str = ""
    status: str = Status.UNKNOWN.value
    events: tuple[IncidentEvent, ...] = field(default_factory=tuple)

    @property
    def open(self) -> bool:
        return not self.resolved_at

    def with_event(self, event: IncidentEvent) -> Incident:
        return replace(self, events=(*self.events, event))

    def to_dict(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            env=str(data.get("env", "")),
            opened_at=str(data["opened_at"]),
            resolved_at=str(data.get("resolved_at") or ""),
            status=str(data.get("status") or Status.UNKNOWN.value),
            events=tuple(IncidentEvent(**e) for e in data.get("events", [])),
        )

    def time_to_resolve(self) -> float | None:
        if not self.resolved_at:
            return None
        return (parse_time(self.resolved_at) - parse_time(self.opened_at)).total_seconds()


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.UNKNOWN


def _badge(text: str, status: str) -> str:
    return f'<span class="swb-badge s-{_status(status).value}">{_e(text)}</span>'


def _href(link: str, prefix: str) -> str:
    """A report link: absolute as given, else relative to the outputs root plus ``prefix``."""
    return link if "://" in link or link.startswith("/") else prefix + link


def _when(at: str, *, seconds: bool = False) -> str:
    """``at`` (RFC 3339) as a person reads it, in a ``<time>`` element keeping the original."""
    try:
        shown = human_time(at, seconds=seconds)
    except WorkbookError:
        shown = at
    return f'<time datetime="{_e(at)}">{_e(shown)}</time>'


def incident_page(incident: Incident) -> str:
    """The incident's page (``incidents/<id>.html``): what happened, in time order."""
    state = (
        f"resolved after {format_duration(incident.time_to_resolve() or 0)}"
        if incident.resolved_at
        else "open"
    )
    rows = []
    for event in sorted(incident.events, key=lambda e: e.at):
        link = f' <a href="{_e(_href(event.link, "../"))}">report</a>' if event.link else ""
        badge = _badge(event.status, event.status) + " " if event.status else ""
        rows.append(
            f"<tr><td>{_when(event.at, seconds=True)}</td><td>{_e(event.kind)}</td>"
            f"<td>{badge}{_e(event.text)}{link}</td></tr>"
        )
    css = "".join(f".s-{s.value}{{background:{s.colour}}}" for s in Status)
    colour = (Status.OK if incident.resolved_at else Status.CRIT).value
    return (
        page_start(f"Incident {incident.title}", css=css)
        + f'<header class="swb"><h1>{_e(incident.title)} on {_e(incident.env)}</h1>'
        f'<div class="swb-meta"><span>{_badge(state, colour)}</span>'
        f"<span>opened {_when(incident.opened_at)}</span>"
        + (f"<span>resolved {_when(incident.resolved_at)}</span>" if incident.resolved_at else "")
        + f"<span>incident {_e(incident.id)}</span></div></header>"
        "<section><h2>Timeline</h2><table><thead><tr><th>when</th><th>what</th><th>detail</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
        '<footer><p><a href="../index.html">All runs and incidents</a> · '
        f'<a href="{_e(incident.id)}.json">{_e(incident.id)}.json</a></p></footer>'
        "</main></body></html>\n"
    )


_LOCK = threading.Lock()


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_incident(outputs_dir: Path, incident: Incident) -> Path:
    """Write ``incidents/<id>.json`` and its page; returns the page's path."""
    folder = outputs_dir / FOLDER
    page = folder / f"{incident.id}.html"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _LOCK:
            _write(folder / f"{incident.id}.json", json.dumps(incident.to_dict(), indent=1))
            _write(page, incident_page(incident))
    except OSError as exc:
        raise OutputError(f"cannot write incident {incident.id} under {folder}: {exc}") from exc
    return page


def load_records(outputs_dir: Path) -> list[Incident]:
    """Every incident under ``outputs_dir/incidents`` (unreadable files are left out)."""
    found = []
    for path in sorted((outputs_dir / FOLDER).glob("*.json")):
        try:
            found.append(Incident.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def incidents_section(incidents: Sequence[Incident], *, now: datetime) -> str:
    """The index's "Incidents": open first, then those resolved in the last 30 days."""
    cutoff = now - timedelta(days=RECENT_DAYS)
    opened = sorted((i for i in incidents if i.open), key=lambda i: i.opened_at, reverse=True)
    recent = sorted(
        (i for i in incidents if not i.open and parse_time(i.resolved_at) >= cutoff),
        key=lambda i: i.resolved_at,
        reverse=True,
    )
    if not opened and not recent:
        return ""

    def item(incident: Incident) -> str:
        state = (
            _badge("open", Status.CRIT.value)
            if incident.open
            else _badge(
                f"resolved in {format_duration(incident.time_to_resolve() or 0)}", Status.OK.value
            )
        )
        runs = sum(1 for e in incident.events if e.kind == "run")
        ran = (
            f"{runs} runbook run{'s' if runs != 1 else ''} · runbook status "
            f"{_badge(incident.status, incident.status)}"
            if runs
            else "no runbook run"
        )
        return (
            f'<li>{state} <a href="{FOLDER}/{_e(incident.id)}.html"><b>{_e(incident.title)}</b>'
            f"</a> on {_e(incident.env)} · opened {_when(incident.opened_at)} · {ran}</li>"
        )

    parts = ['<section class="swb-incidents"><h2>Incidents</h2>']
    if opened:
        parts.append(f"<h3>Open ({len(opened)})</h3><ul>{''.join(map(item, opened))}</ul>")
    if recent:
        parts.append(
            f"<h3>Resolved, last {RECENT_DAYS} days ({len(recent)})</h3>"
            f"<ul>{''.join(map(item, recent))}</ul>"
        )
    parts.append("</section>")
    return "".join(parts)
