"""ipywidgets controls for JupyterLab: change window, route or environment without re-running.

In a headless run the controls are built but draw nothing until a user touches them, so the
scheduled report pays nothing for them (and the report leaves widgets out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import ipywidgets as widgets
from IPython.display import display

from sreworkbook.config import load_environment
from sreworkbook.exceptions import WorkbookError

__all__ = ["WINDOWS", "dashboard_explorer", "environment_names"]

WINDOWS = ("1h", "6h", "24h", "7d", "30d")


def environment_names(root: Path) -> list[str]:
    """The environments under ``root/parameters`` (schedule and alert files excluded)."""
    skip = {"schedule", "alerts"}
    return sorted(p.stem for p in (root / "parameters").glob("*.yaml") if p.stem not in skip)


def dashboard_explorer(
    root: Path,
    *,
    env: str,
    routes: Sequence[str],
    environ: Mapping[str, str],
    now: Callable[[], datetime],
    window: str = "24h",
) -> widgets.VBox:
    """Window, route and environment pickers over the latency, error-rate and route charts."""
    from sreworkbook import dashboard
    from sreworkbook.dashboard import view

    names = environment_names(root)
    env_picker = widgets.Dropdown(
        options=names, value=env if env in names else names[0], description="Environment"
    )
    window_picker = widgets.ToggleButtons(
        options=list(WINDOWS), value=window if window in WINDOWS else "24h", description="Window"
    )
    route_picker = widgets.Dropdown(options=["all", *routes], value="all", description="Route")
    out = widgets.Output()
    with out:
        display(widgets.HTML("<i>Change the window, route or environment to redraw here.</i>"))

    def redraw(_: object = None) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                environment = load_environment(env_picker.value, root=root)
                backend = dashboard.backend_for(environment, environ)
                span = dashboard.resolve_window(
                    start="", end="", window=window_picker.value, step="auto", now=now()
                )
                data = dashboard.load_dashboard(backend, span, slos=environment.slos)
                route = None if route_picker.value == "all" else route_picker.value
                for name in ("latency", "error_rate", "route_p95"):
                    display(
                        view.panel_figure(
                            data, name, thresholds=environment.thresholds, route=route
                        )
                    )
            except WorkbookError as exc:
                display(widgets.HTML(f"<b>Cannot redraw:</b> {exc}"))

    for picker in (env_picker, window_picker, route_picker):
        picker.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([env_picker, route_picker]), window_picker, out])
