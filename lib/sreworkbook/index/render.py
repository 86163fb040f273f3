"""The index page's HTML: status grid, what changed, job cards with SVG sparklines. No JS.

Everything is static and inline (styles, SVG), so the page opens offline from disk or from a
static website, on a phone as on a desk; the reports it links to load the shared assets.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

from sreworkbook.index.model import (
    YESTERDAY,
    DayCell,
    IndexView,
    JobView,
    RunRef,
    Trend,
)
from sreworkbook.reports.assets import page_start
from sreworkbook.results import Status, format_metric

__all__ = ["ago", "render_page", "sparkline"]

_e = html.escape
_CSS = (
    "".join(f".s-{s.value}{{background:{s.colour}}}" for s in Status)
    + ".swb-overview{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0}"
    ".swb-overview .swb-badge{font-size:.95em;padding:2px 10px}"
    ".swb-stale{background:#59636e}"
    "table.swb-grid{border-collapse:separate;border-spacing:2px;margin:4px 0}"
    ".swb-grid th,.swb-grid td{border:0;padding:0;background:none;text-align:center}"
    ".swb-grid thead th{font-weight:400;color:var(--muted);font-size:.7em;min-width:20px}"
    ".swb-grid th.swb-name{text-align:left;font-weight:600;padding-right:8px;font-size:.85em;"
    "white-space:nowrap;max-width:42vw;overflow:hidden;text-overflow:ellipsis}"
    ".swb-grid th.swb-name a{color:inherit}"
    ".swb-grid thead th.swb-today{color:var(--fg);font-weight:700}"
    ".swb-cell{display:block;width:20px;height:20px;border-radius:3px}"
    ".swb-grid td.swb-today .swb-cell{box-shadow:0 0 0 2px var(--fg)}"
    ".swb-empty{box-shadow:inset 0 0 0 1px var(--line)}"
    ".swb-legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.8em;color:var(--muted)}"
    ".swb-legend i{display:inline-block;width:11px;height:11px;border-radius:2px;"
    "margin-right:4px;vertical-align:-1px}"
    ".swb-job{border-left:6px solid var(--line);background:var(--soft);padding:6px 14px;"
    "margin:12px 0;border-radius:0 6px 6px 0}"
    ".swb-job h3{margin:4px 0;font-size:1.05em;display:flex;flex-wrap:wrap;gap:4px 8px;"
    "align-items:baseline}.swb-job h3 small{color:var(--muted);font-weight:400}"
    ".swb-job p{margin:4px 0}"
    ".swb-trends{display:flex;flex-wrap:wrap;gap:6px 22px;margin:6px 0}"
    ".swb-trend{margin:0;font-size:.8em;color:var(--muted)}.swb-trend b{color:var(--fg)}"
    ".swb-spark{display:block;color:#0969da;overflow:visible}"
    ".swb-chips{font-size:.8em;color:var(--muted)}"
    ".swb-chips .swb-chip{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;"
    "margin:2px 2px 0 0;text-decoration:none;white-space:nowrap}"
    ".swb-changes li{margin:4px 0}"
    "@media (max-width:600px){.swb-cell{width:13px;height:18px}"
    ".swb-grid thead th{min-width:13px;font-size:.6em}"
    ".swb-grid th.swb-name{max-width:36vw;font-size:.7em;white-space:normal;line-height:1.15;"
    "overflow-wrap:anywhere}}"
)


def ago(now: datetime, then: datetime) -> str:
    """``then`` relative to ``now`` as a reader says it: "just now", "25 min ago", "3 h ago"."""
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _href(report: str) -> str | None:
    """A report link as the ledger gives it: relative paths only (no scheme, no root)."""
    if not report or report.startswith("/") or ":" in report.split("/", 1)[0]:
        return None
    return report


def _badge(status: Status, text: str | None = None) -> str:
    return f'<span class="swb-badge s-{status.value}">{_e(text or status.value)}</span>'


def sparkline(values: Sequence[float | None], *, title: str, width: int = 120) -> str:
    """An inline SVG line through ``values``, the last point marked.

    ``None`` is a day without a value: the line is dashed across it.
    """
    height, pad = 28, 3
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = high - low
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def y(value: float) -> float:
        if span == 0:
            return height / 2
        return pad + (high - value) / span * (height - 2 * pad)

    solid: list[str] = []
    bridge: list[str] = []  # dashed, across days without a value
    previous: tuple[int, float, float] | None = None
    for i, value in enumerate(values):
        if value is None:
            continue
        x, yy = pad + i * step, y(value)
        if previous is None:
            solid.append(f"M{x:.1f} {yy:.1f}")
        elif previous[0] == i - 1:
            solid.append(f"L{x:.1f} {yy:.1f}")
        else:
            bridge.append(f"M{previous[1]:.1f} {previous[2]:.1f}L{x:.1f} {yy:.1f}")
            solid.append(f"M{x:.1f} {yy:.1f}")
        previous = (i, x, yy)
    assert previous is not None
    dashed = f'<path d="{"".join(bridge)}" stroke-dasharray="2 3" opacity=".6"/>' if bridge else ""
    return (
        f'<svg class="swb-spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>"
        '<g fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round">'
        f'<path d="{"".join(solid)}"/>{dashed}</g>'
        f'<circle cx="{previous[1]:.1f}" cy="{previous[2]:.1f}" r="2.5" fill="currentColor"/>'
        "</svg>"
    )


def _trend(trend: Trend, days: int) -> str:
    name = trend.metric.name
    present = [v for v in trend.values if v is not None]
    title = (
        f"{trend.metric.label}, worst of each day over {days} days: "
        f"from {format_metric(name, min(present))} to {format_metric(name, max(present))}; "
        f"latest run {format_metric(name, trend.last)}"
    )
    return (
        f'<figure class="swb-trend"><figcaption>{_e(trend.metric.label)} '
        f"<b>{_e(format_metric(name, trend.last))}</b></figcaption>"
        f"{sparkline(trend.values, title=title)}</figure>"
    )


def _cell(job: JobView, cell: DayCell, today: bool) -> str:
    cls = ' class="swb-today"' if today else ""
    if cell.status is None:
        title = f"{cell.day:%a %Y-%m-%d}: no run"
        return f'<td{cls}><span class="swb-cell swb-empty" title="{title}"></span></td>'
    title = f"{cell.day:%a %Y-%m-%d}: {cell.runs} run(s), worst {cell.status.value}"
    if cell.headline:
        title += f" — latest report: {cell.headline}"
    href = _href(cell.report)
    colour = f"swb-cell s-{cell.status.value}"
    if href is None:
        return f'<td{cls}><span class="{colour}" title="{_e(title)}"></span></td>'
    return f'<td{cls}><a class="{colour}" href="{_e(href)}" title="{_e(title)}"></a></td>'


def _day_head(day: date, today: bool) -> str:
    label = f"{day:%a}"[:2]
    cls = ' class="swb-today"' if today else ""
    note = " (today)" if today else ""
    return f'<th{cls} title="{day:%a %Y-%m-%d}{note}">{label}<br>{day.day}</th>'


def _grid(view: IndexView) -> str:
    today = view.now.date()
    head = "".join(_day_head(d, d == today) for d in view.days)
    rows = "".join(
        f'<tr><th class="swb-name" scope="row"><a href="#{_e(job.anchor)}">{_e(job.name)}</a>'
        f"</th>{''.join(_cell(job, c, c.day == today) for c in job.cells)}</tr>"
        for job in view.jobs
    )
    legend = "".join(
        f'<span><i class="s-{s.value}"></i>{s.value}</span>'
        for s in sorted(Status, key=lambda s: -s.rank)
    )
    return (
        f"<section><h2>Last {len(view.days)} days</h2>"
        '<div class="swb-output"><table class="swb-grid"><thead><tr><th></th>'
        f"{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        f'<div class="swb-legend">{legend}<span><i class="swb-empty"></i>no run</span>'
        "<span>a cell: the day's worst status, linking to its latest report</span></div>"
        "</section>"
    )


def _change_item(job: JobView, now: datetime) -> str | None:
    """One line of "what changed", or ``None`` when the job is as it was 24 h ago."""
    link = f'<a href="#{_e(job.anchor)}">{_e(job.name)}</a>'
    change = job.change
    went_stale = job.stale and job.latest.finished + job.stale_after > now - YESTERDAY
    if change is None and not went_stale:
        return None
    if change is None:
        head = f"{_badge(Status.SKIPPED, 'stale')} {link}"
    elif change.before is None:
        head = f"{_badge(change.after)} {link}: first run since yesterday"
    elif change.before is not change.after:
        head = f"{_badge(change.before)} → {_badge(change.after)} {link}: {_e(job.latest.headline)}"
    else:
        head = f"{_badge(change.after)} {link}: findings changed"
    parts = [head]
    if went_stale:
        parts.append(f"no run since {_stamp(job.latest.finished)}")
    if change is not None and change.new:
        parts.append("new: " + "; ".join(_e(t) for t in change.new))
    if change is not None and change.resolved:
        parts.append("resolved: " + "; ".join(_e(t) for t in change.resolved))
    return f"<li>{' — '.join(parts)}</li>"


def _changes(view: IndexView) -> str:
    items = [item for job in view.jobs if (item := _change_item(job, view.now)) is not None]
    body = f"<ul>{''.join(items)}</ul>" if items else "<p>Nothing changed in the last 24 h.</p>"
    return f'<section class="swb-changes"><h2>What changed since yesterday</h2>{body}</section>'


def _chip(run: RunRef) -> str:
    text = f"{run.started:%m-%d %H:%M}"
    title = _e(f"{run.status.value}: {run.headline}")
    href = _href(run.report)
    if href is None:
        return (
            f'<span class="swb-chip s-{run.status.value}" title="{title} (no report)">{text}</span>'
        )
    return f'<a class="swb-chip s-{run.status.value}" href="{_e(href)}" title="{title}">{text}</a>'


def _card(job: JobView, view: IndexView) -> str:
    latest = job.latest
    href = _href(latest.report)
    title = f'<a href="{_e(href)}">{_e(job.name)}</a>' if href else _e(job.name)
    where = f"{job.notebook} · {job.env}" if job.expectation else ""
    flags = " " + _badge(Status.SKIPPED, "stale") if job.stale else ""
    meta = [f"{ago(view.now, latest.finished)} ({_stamp(latest.finished)})"]
    if job.expectation:
        meta.append(f"schedule <code>{_e(job.expectation.cron)}</code>")
    if job.failing:
        meta.append(
            f"last good run {ago(view.now, job.last_good)}" if job.last_good else "never good"
        )
    meta.append(f"{job.runs:,} run{'' if job.runs == 1 else 's'}")
    trends = "".join(_trend(t, len(view.trend_days)) for t in job.trends)
    return (
        f'<article class="swb-job" id="{_e(job.anchor)}" '
        f'style="border-left-color:{latest.status.colour}">'
        f"<h3>{_badge(latest.status)}{flags} {title} <small>{_e(where)}</small></h3>"
        f"<p>{_e(latest.headline)}</p>"
        f'<div class="swb-meta">{"".join(f"<span>{m}</span>" for m in meta)}</div>'
        + (f'<div class="swb-trends">{trends}</div>' if trends else "")
        + f'<p class="swb-chips">Latest reports: {"".join(_chip(r) for r in job.recent)}</p>'
        "</article>"
    )


def _overview(view: IndexView) -> str:
    failing = sum(job.failing for job in view.jobs)
    stale = sum(job.stale for job in view.jobs)
    counts = Counter(job.latest.status for job in view.jobs)
    badges = [f'<span class="swb-badge s-CRIT">{failing} failing</span>'] if failing else []
    if stale:
        badges.append(f'<span class="swb-badge swb-stale">{stale} stale</span>')
    badges += [
        _badge(status, f"{counts[status]} {status.value}")
        for status in sorted(counts, key=lambda s: -s.rank)
    ]
    return f'<div class="swb-overview">{"".join(badges)}</div>'


def render_page(view: IndexView, *, note: str = "", incidents: str = "") -> str:
    """The whole index page for ``view``, with the incidents section's HTML first."""
    last = (
        f"<span>Last run finished {ago(view.now, view.last_finished)}</span>"
        if view.last_finished
        else ""
    )
    body = incidents + (
        _overview(view)
        + _grid(view)
        + _changes(view)
        + "<section><h2>Jobs</h2>"
        + "".join(_card(job, view) for job in view.jobs)
        + "</section>"
        if view.jobs
        else "<p>No runs yet. Try <code>sreworkbook demo</code>.</p>"
    )
    if view.never_run:
        body += (
            "<section><h2>Scheduled, never run</h2><ul>"
            + "".join(
                f"<li><b>{_e(e.name)}</b> ({_e(e.notebook)} · {_e(e.env)}, "
                f"<code>{_e(e.cron)}</code>): no run in the ledger</li>"
                for e in view.never_run
            )
            + "</ul></section>"
        )
    notes = f"<p>{_e(note)}</p>" if note else ""
    source = '<a href="ledger.jsonl">ledger.jsonl</a>' if view.total_runs else "ledger.jsonl"
    if view.unreadable:
        notes += f"<p>{view.unreadable} ledger line(s) had no readable time and were left out.</p>"
    return (
        page_start("SRE Workbook — status", css=_CSS)
        + '<header class="swb"><h1>SRE Workbook — status</h1>'
        f'<div class="swb-meta"><span>As of {_stamp(view.now)}</span>{last}'
        f"<span>{view.total_runs:,} runs recorded</span></div></header>"
        f"{body}<footer>{notes}<p>Built from {source}. "
        "Days are UTC. A job is stale when it has not run for twice its schedule's interval "
        "(26 h when it has no schedule). Failing (CRIT, UNKNOWN, ERROR) and stale jobs come "
        "first. Older reports: through the grid, or in <code>runs/DATE/</code>.</p>"
        "</footer></main></body></html>\n"
    )
