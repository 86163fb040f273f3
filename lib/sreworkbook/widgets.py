"""ipywidgets controls for JupyterLab: change window, route, environment or a log search
without re-running.

In a headless run the controls are built but draw nothing until a user touches them, so the
scheduled report pays nothing for them (and the report leaves widgets out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets
from IPython.display import display

from sreworkbook.config import load_environment
from sreworkbook.exceptions import WorkbookError

if TYPE_CHECKING:
    from sreworkbook.incidents import Exploration

__all__ = ["LOG_WINDOWS", "WINDOWS", "dashboard_explorer", "environment_names", "log_explorer"]

WINDOWS = ("1h", "6h", "24h", "7d", "30d")


def environment_names(root: Path) -> list[str]:
    """The environments under ``root/parameters`` (schedule and alert files excluded)."""
    skip = {"schedule", "alerts"}
    return sorted(p.stem for p in (root / "parameters").glob("*.yaml") if p.stem not in skip)


def _redrawn(
    hint: str, draw: Callable[[], None]
) -> tuple[widgets.Output, Callable[[object], None]]:
    """An output area that shows ``hint`` until a control changes, and the callback that
    then clears it and calls ``draw`` inside it."""
    out = widgets.Output()
    with out:
        display(widgets.HTML(f"<i>{hint}</i>"))

    def redraw(_: object = None) -> None:
        out.clear_output(wait=True)
        with out:
            draw()

    return out, redraw


def dashboard_explorer(
    root: Path,
    *,
    env: str,
    routes: Sequence[str],
    environ: Mapping[str, str],
    now: Callable[[], datetime],
    window: str = "24h",
) -> widgets.VBox:
    """Window, route and environment pickers over the response-time, error-rate and route
    charts. The route picker drives the route charts (p95 and 5xx per minute of that route);
    the service-wide charts stay for all routes, and the widget says so."""
    from sreworkbook import dashboard
    from sreworkbook.dashboard import view

    names = environment_names(root)
    if env not in names:  # a file given by its path, or named otherwise: keep it, first
        names = [env, *names]
    env_picker = widgets.Dropdown(options=names, value=env, description="Environment")
    window_picker = widgets.ToggleButtons(
        options=list(WINDOWS), value=window if window in WINDOWS else "24h", description="Window"
    )
    route_picker = widgets.Dropdown(options=["all", *routes], value="all", description="Route")
    drives = widgets.HTML(
        "<small>The route picks the route charts (p95 and 5xx per minute of that route); "
        "response time and error rate are for the whole service.</small>"
    )

    def draw() -> None:
        try:
            environment = load_environment(env_picker.value, root=root)
            backend = dashboard.backend_for(environment, environ)
            span = dashboard.resolve_window(
                start="", end="", window=window_picker.value, step="auto", now=now()
            )
            data = dashboard.load_dashboard(backend, span, slos=environment.slos)
            route = None if route_picker.value == "all" else route_picker.value
            shown = ("latency", "error_rate", "route_p95", "route_errors")
            for name in shown:
                display(
                    view.panel_figure(data, name, thresholds=environment.thresholds, route=route)
                )
        except WorkbookError as exc:
            display(widgets.HTML(f"<b>Cannot redraw:</b> {exc}"))

    out, redraw = _redrawn("Change the window, route or environment to redraw here.", draw)
    for picker in (env_picker, window_picker, route_picker):
        picker.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([env_picker, route_picker]), drives, window_picker, out])


#: The log explorer's windows: the exploration's own, or the last hour(s) or days before now.
LOG_WINDOWS = ("focus", "1h", "6h", "24h", "7d")


def log_explorer(
    found: Exploration, *, now: Callable[[], datetime], rows: int = 200
) -> widgets.VBox:
    """Window, level, text and correlation-ID controls over a table and a chart of log lines.

    ``found`` is the notebook's :class:`~sreworkbook.incidents.Exploration`: its log store, and
    its focus as the ``focus`` window. A correlation ID shows that request's trace instead.
    """
    from sreworkbook.incidents import trace
    from sreworkbook.incidents import view as incident_view
    from sreworkbook.incidents.exploration import LEVELS, search
    from sreworkbook.timeutil import parse_duration

    window = widgets.ToggleButtons(options=list(LOG_WINDOWS), value="focus", description="Window")
    level = widgets.Dropdown(options=["any", *LEVELS], value="any", description="Level")
    text = widgets.Text(description="Text", placeholder="any text", continuous_update=False)
    cid = widgets.Text(description="Request", placeholder="correlation ID", continuous_update=False)

    def draw() -> None:
        if found.store is None:
            display(widgets.HTML(f"<b>No logs to search:</b> {found.problem}"))
            return
        start, end = found.focus.start, found.focus.end
        if window.value != "focus":
            end = now()
            start = end - timedelta(seconds=parse_duration(window.value, name="window"))
        try:
            if cid.value.strip():
                traced = trace(found.store, cid.value, start=start, end=end)
                display(widgets.HTML(incident_view.trace_table(traced)))
                return
            levels = frozenset() if level.value == "any" else frozenset({level.value})
            lines, counts, label = search(
                found.store, start, end, levels=levels, text=text.value.strip()
            )
            display(incident_view.lines_figure(counts, f"Lines matching {label}"))
            display(lines.head(rows))
        except WorkbookError as exc:
            display(widgets.HTML(f"<b>Cannot search:</b> {exc}"))

    out, redraw = _redrawn("Change a control to search the logs here.", draw)
    for control in (window, level, text, cid):
        control.observe(redraw, names="value")
    return widgets.VBox([window, widgets.HBox([level, text, cid]), out])
