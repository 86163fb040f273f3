"""Plotly figure builders with the workbook's one theme."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from sreworkbook.results import Status

__all__ = ["STATUS_COLOURS", "apply_theme", "status_bar"]

STATUS_COLOURS = {status.value: status.colour for status in Status}

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


def apply_theme(fig: go.Figure, *, title: str | None = None, height: int = 360) -> go.Figure:
    """``fig`` styled like every other workbook chart (changed in place and returned)."""
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01} if title else None,
        font={"family": _FONT, "size": 13},
        height=height,
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        hoverlabel={"font": {"family": _FONT}},
    )
    return fig


def status_bar(
    labels: Sequence[str],
    values: Sequence[float | None],
    statuses: Sequence[Status],
    *,
    title: str,
    unit: str,
) -> go.Figure:
    """A horizontal bar per item, coloured by its status (e.g. latency per check)."""
    fig = go.Figure(
        go.Bar(
            x=[v if v is not None else 0 for v in values],
            y=list(labels),
            orientation="h",
            marker={"color": [s.colour for s in statuses]},
            text=[f"{v:,.0f} {unit}" if v is not None else "—" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.1f} " + unit + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=unit)
    return apply_theme(fig, title=title, height=max(240, 26 * len(labels) + 90))
