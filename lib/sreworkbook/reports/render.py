"""Render an executed notebook as a report: no code, no prompts, the summary first.

Plotly figures stay interactive and load plotly.js from the shared ``outputs/assets`` folder,
so a report is small and works offline from disk.
"""

from __future__ import annotations

import html
import json
from typing import Any

import mistune

from sreworkbook.reports.assets import PLOTLY_JS, page_start
from sreworkbook.results import SUMMARY_MIME, RunSummary, summary_banner_html

__all__ = ["render_report"]

_PLOTLY_MIME = "application/vnd.plotly.v1+json"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_SKIP_TAGS = {"parameters", "injected-parameters", "remove", "remove-output"}
_markdown = mistune.create_markdown(plugins=["table", "strikethrough"])


def render_report(
    nb: Any,
    summary: RunSummary,
    *,
    assets_href: str,
    notebook_href: str | None = None,
    summary_href: str | None = None,
) -> str:
    """The report's HTML for executed notebook ``nb`` and its ``summary``."""
    title = _title(nb) or summary.notebook
    body: list[str] = []
    plots = 0
    for index, cell in enumerate(nb.get("cells", [])):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & _SKIP_TAGS:
            continue
        if cell.get("cell_type") == "markdown":
            text = _source(cell)
            if index == _title_cell(nb):  # the title is the page heading; keep the intro
                text = "\n".join(text.lstrip().splitlines()[1:])
            body.append(f'<section class="swb-md">{_markdown(text)}</section>')
            continue
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            fragment, is_plot = _output_html(output, plot_id=f"swb-plot-{plots}")
            plots += is_plot
            if fragment:
                body.append(f'<div class="swb-output">{fragment}</div>')
    links = " · ".join(
        f'<a href="{html.escape(href)}">{label}</a>'
        for href, label in ((notebook_href, "executed notebook"), (summary_href, "summary.json"))
        if href
    )
    meta = (
        f"<span>Environment <b>{html.escape(summary.env)}</b></span>"
        f"<span>Started {html.escape(summary.started_at)}</span>"
        f"<span>Took {summary.duration_s:,.1f} s</span>"
        f"<span>Run {html.escape(summary.run_id)}</span>"
        + (f"<span>{links}</span>" if links else "")
    )
    script = (
        f'<script src="{html.escape(assets_href)}/{PLOTLY_JS}" charset="utf-8"></script>'
        if plots
        else ""
    )
    return (
        page_start(f"{summary.status.value} · {title} · {summary.env}", head=script)
        + f'<header class="swb"><h1>{html.escape(title)}</h1>'
        f'<div class="swb-meta">{meta}</div></header>'
        f"{summary_banner_html(summary)}"
        + "\n".join(body)
        + f"<footer>SRE Workbook report · {html.escape(summary.notebook)}</footer>"
        "</main></body></html>\n"
    )


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _title_cell(nb: Any) -> int | None:
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "markdown":
            return index if _source(cell).lstrip().startswith("# ") else None
    return None


def _title(nb: Any) -> str | None:
    index = _title_cell(nb)
    if index is None:
        return None
    first = _source(nb["cells"][index]).lstrip().splitlines()[0]
    return first[2:].strip()


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _output_html(output: Any, *, plot_id: str) -> tuple[str, bool]:
    kind = output.get("output_type")
    if kind == "error":
        return (
            '<div class="swb-error"><b>This step failed:</b> '
            f"{html.escape(str(output.get('ename', 'Error')))}: "
            f"{html.escape(str(output.get('evalue', '')))}<br>"
            "<small>The executed notebook holds the full traceback.</small></div>",
            False,
        )
    if kind == "stream":
        if output.get("name") == "stdout":
            return f"<pre>{html.escape(_text(output.get('text', '')))}</pre>", False
        return "", False
    data = output.get("data") or {}
    if SUMMARY_MIME in data:
        return "", False
    if _PLOTLY_MIME in data:
        figure = data[_PLOTLY_MIME]
        payload = json.dumps(
            {"data": figure.get("data", []), "layout": figure.get("layout", {})},
            separators=(",", ":"),
        ).replace("</", "<\\/")
        return (
            f'<div id="{plot_id}" class="swb-plot"></div><script>'
            f"(function(){{var f={payload};Plotly.newPlot('{plot_id}',f.data,f.layout,"
            "{responsive:true,displaylogo:false});})();</script>",
            True,
        )
    if "text/html" in data:
        return _text(data["text/html"]), False
    if "image/svg+xml" in data:
        return _text(data["image/svg+xml"]), False
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            encoded = _text(data[mime]).replace("\n", "")
            return f'<img alt="chart" src="data:{mime};base64,{encoded}">', False
    if "text/markdown" in data:
        return str(_markdown(_text(data["text/markdown"]))), False
    if _WIDGET_MIME in data and "text/plain" in data:
        return "", False  # interactive controls have no meaning in a static report
    if "text/plain" in data:
        return f"<pre>{html.escape(_text(data['text/plain']))}</pre>", False
    return "", False
