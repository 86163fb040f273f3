"""``outputs/index.html``: the latest status of every notebook and environment, for managers."""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path

from sreworkbook.reports.assets import STYLESHEET
from sreworkbook.reports.ledger import Ledger
from sreworkbook.results import RunSummary

__all__ = ["build_index", "render_index"]

HISTORY = 20


def build_index(outputs_dir: Path, *, history: int = HISTORY) -> Path:
    """Rebuild ``outputs_dir/index.html`` from the ledger; returns its path."""
    runs = Ledger(outputs_dir / "ledger.jsonl").runs()
    page = render_index(runs, history=history)
    target = outputs_dir / "index.html"
    partial = target.with_name(f".index.html.{os.getpid()}.partial")
    outputs_dir.mkdir(parents=True, exist_ok=True)
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, target)
    return target


def render_index(runs: list[RunSummary], *, history: int = HISTORY) -> str:
    """The index page for ``runs`` (oldest first, as in the ledger)."""
    groups: dict[tuple[str, str], list[RunSummary]] = defaultdict(list)
    for run in runs:
        groups[(run.notebook, run.env)].append(run)
    ordered = sorted(
        groups.items(), key=lambda item: (-item[1][-1].status.rank, item[0][0], item[0][1])
    )
    rows = "\n".join(_row(nb, env, group[-history:]) for (nb, env), group in ordered)
    latest = [group[-1].status for group in groups.values()]
    overview = " ".join(
        f'<span class="swb-badge" style="background:{status.colour}">'
        f"{latest.count(status)} {status.value}</span>"
        for status in sorted(set(latest), key=lambda s: -s.rank)
    )
    updated = runs[-1].finished_at if runs else "never"
    empty = "<p>No runs yet. Try <code>sreworkbook demo</code>.</p>" if not runs else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SRE Workbook — status</title><style>{STYLESHEET}"
        ".swb-dot{display:inline-block;width:12px;height:12px;border-radius:2px;margin:1px}"
        "td.swb-headline{max-width:460px}</style></head><body><main>"
        '<header class="swb"><h1>SRE Workbook — status</h1>'
        f'<div class="swb-meta"><span>Last run finished {html.escape(updated)}</span>'
        f"<span>{len(runs)} runs recorded</span></div></header>"
        f"<p>{overview}</p>{empty}"
        + (
            "<div class=swb-output><table><thead><tr><th>Status</th><th>Notebook</th>"
            "<th>Env</th><th>Latest headline</th><th>When</th><th>Recent runs</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
            if runs
            else ""
        )
        + "<footer>Built from outputs/ledger.jsonl. Reports open offline.</footer>"
        "</main></body></html>\n"
    )


def _row(notebook: str, env: str, runs: list[RunSummary]) -> str:
    latest = runs[-1]
    dots = "".join(
        f'<a class="swb-dot" href="{html.escape(run.report)}" '
        f'title="{html.escape(run.started_at)} {run.status.value}: {html.escape(run.headline)}" '
        f'style="background:{run.status.colour}"></a>'
        for run in runs
    )
    return (
        f'<tr><td><span class="swb-badge" style="background:{latest.status.colour}">'
        f"{latest.status.value}</span></td>"
        f'<td><a href="{html.escape(latest.report)}">{html.escape(notebook)}</a></td>'
        f"<td>{html.escape(env)}</td>"
        f'<td class="swb-headline">{html.escape(latest.headline)}</td>'
        f"<td>{html.escape(latest.finished_at)}</td><td>{dots}</td></tr>"
    )
