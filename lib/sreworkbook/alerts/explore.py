"""Move a rule's threshold in JupyterLab and see what it would have done, without re-running.

The backtest's signal is already in the report: a new threshold is a new pass of the state
machine over it and a new score (milliseconds), never another Prometheus query.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace

import ipywidgets as widgets
from IPython.display import display

from sreworkbook.alerts.backtest import backtest
from sreworkbook.alerts.scoring import score_instances
from sreworkbook.alerts.tuning import RuleTuning, TuningReport
from sreworkbook.alerts.view import rule_figure
from sreworkbook.exceptions import WorkbookError
from sreworkbook.known_incidents import Incident

__all__ = ["threshold_explorer", "with_threshold"]


def with_threshold(report: TuningReport, tuning: RuleTuning, threshold: float) -> RuleTuning:
    """``tuning`` with its tuned setting replaced by the rule as written at ``threshold``."""
    rule = tuning.rule.tuned(threshold=threshold)
    instances = backtest(tuning.rule, tuning.result.signal, threshold=threshold)
    score = score_instances(
        rule, instances, report.incidents, start_ms=report.start_ms, end_ms=report.end_ms,
        kind=tuning.kind,
    )  # fmt: skip
    return replace(tuning, tuned=rule, tuned_instances=tuple(instances), tuned_score=score)


def threshold_explorer(report: TuningReport, incidents: Sequence[Incident] = ()) -> widgets.VBox:
    """A rule picker and a threshold slider over that rule's chart and score."""
    movable = [t for t in report.tunings if t.rule.threshold is not None]
    if not movable:
        return widgets.VBox([widgets.HTML("<i>No rule has a threshold to move.</i>")])
    rule_picker = widgets.Dropdown(
        options=[t.rule.name for t in movable], value=movable[0].rule.name, description="Rule"
    )
    slider = widgets.FloatSlider(description="Threshold", continuous_update=False)
    out = widgets.Output()
    with out:
        display(widgets.HTML("<i>Move the threshold to replay the rule over the history.</i>"))

    def place(_: object = None) -> None:
        """The slider around the picked rule's threshold as written."""
        written = float(report.tuning(rule_picker.value).rule.threshold or 0.0)
        top = written * 3 if written > 0 else 1.0
        with slider.hold_trait_notifications():
            slider.max = max(top, slider.min)
            slider.min = 0.0
            slider.step = top / 300
            slider.value = written

    def redraw(_: object = None) -> None:
        out.clear_output(wait=True)
        with out:
            tuning = report.tuning(rule_picker.value)
            try:
                moved = with_threshold(report, tuning, slider.value)
            except WorkbookError as exc:
                display(widgets.HTML(f"<b>Cannot replay:</b> {html.escape(str(exc))}"))
                return
            was, now = tuning.current, moved.tuned_score
            display(
                widgets.HTML(
                    f"<p>At <b>{slider.value:g}</b> (as written {tuning.rule.threshold:g}): "
                    f"{now.pages} page(s), {now.pages_per_week:.1f} a week (as written "
                    f"{was.pages_per_week:.1f}); catches {now.caught} of {now.incidents} "
                    f"incident(s) (as written {was.caught}).</p>"
                )
            )
            display(rule_figure(moved, incidents))

    def picked(_: object = None) -> None:
        place()
        redraw()

    place()
    rule_picker.observe(picked, names="value")
    slider.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([rule_picker, slider]), out])
