"""Shared report assets: plotly.js and the stylesheet, written once under ``outputs/assets``,
and the head every page of the workbook starts with."""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import plotly

from sreworkbook.exceptions import OutputError

__all__ = ["PLOTLY_JS", "STYLESHEET", "ensure_assets", "page_start"]

PLOTLY_JS = "plotly.min.js"

STYLESHEET = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
 background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:12px 16px 48px}
header.swb{border-bottom:1px solid var(--line);margin-bottom:8px}
header.swb h1{font-size:1.5em;margin:8px 0 4px}
.swb-meta{color:var(--muted);font-size:.9em;display:flex;flex-wrap:wrap;gap:4px 16px}
.swb-meta a{color:inherit}
h1,h2,h3{line-height:1.25}
h2{font-size:1.25em;margin-top:28px;border-bottom:1px solid var(--line);padding-bottom:4px}
.swb-badge{display:inline-block;color:#fff;padding:1px 8px;border-radius:4px;font-size:.85em;
 font-weight:600}
.swb-metric{min-width:90px}.swb-metric-value{font-size:1.3em;font-weight:600}
.swb-metric-name{color:var(--muted);font-size:.8em}
.swb-output{overflow-x:auto;margin:8px 0}
table{border-collapse:collapse;font-size:.92em;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft)}
pre{background:var(--soft);padding:8px;overflow-x:auto;font-size:.85em}
.swb-error{border-left:6px solid #82071e;background:#ffebe9;padding:8px 12px;margin:8px 0}
.swb-plot{width:100%;min-height:240px}
footer{color:var(--muted);font-size:.8em;margin-top:32px}
@media (max-width:600px){body{font-size:14px}main{padding:8px}}
"""


def page_start(title: str, *, css: str = "", head: str = "") -> str:
    """A page up to its ``<main>``: the doctype, ``title`` (escaped here), the stylesheet with
    ``css`` after it, and ``head`` (scripts) at the end of the ``<head>``."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLESHEET}{css}</style>{head}</head>"
        "<body><main>"
    )


def ensure_assets(outputs_dir: Path) -> Path:
    """Write plotly.js under ``outputs_dir/assets`` unless the same file is there already."""
    assets = outputs_dir / "assets"
    source = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    target = assets / PLOTLY_JS
    try:
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            return assets
        assets.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{PLOTLY_JS}.{os.getpid()}.tmp")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    except OSError as exc:
        raise OutputError(f"cannot write report assets to {assets}: {exc}") from exc
    return assets
