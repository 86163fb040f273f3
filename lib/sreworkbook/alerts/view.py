"""Charts and tables of the alert-tuning report, in the workbook's one theme.

Per rule: its signal over the history (downsampled to the minimum and maximum of each bucket,
so spikes stay visible) with the threshold as written and as tuned, the firing episodes before
(upper band) and after tuning (lower band), and the known incidents shaded. Then the scores
before and after, the Pareto fronts, the SLO review, the validation results and the simulated
notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sreworkbook import plots
from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.export import ExportBundle
from sreworkbook.alerts.review import SLOReview
from sreworkbook.alerts.scoring import Score
from sreworkbook.alerts.simulate import SimulationResult
from sreworkbook.alerts.tuning import RuleTuning, TuningReport
from sreworkbook.alerts.validate import ToolCheck
from sreworkbook.known_incidents import Incident

__all__ = [
    "charted",
    "checks_table",
    "files_markdown",
    "pareto_figure",
    "rule_figure",
    "scores_table",
    "simulation_table",
    "slo_table",
    "slo_warnings",
    "tests_table",
    "uncharted_markdown",
]

_BEFORE, _AFTER = "#bc4c00", "#1a7f37"
_MOST_EPISODES = 300


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _envelope(
    times: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    present: npt.NDArray[np.bool_],
    points: int,
) -> tuple[list[datetime], list[float]]:
    """Min and max of each bucket (NaN where nothing was present), in time order."""
    n = len(times)
    size = max(1, -(-n // max(points // 2, 1)))
    pad = (-n) % size
    vals = np.concatenate([np.where(present, values, np.nan), np.full(pad, np.nan)]).reshape(
        -1, size
    )
    seen = ~np.isnan(vals)
    low = np.where(seen, vals, np.inf).min(axis=1)
    high = np.where(seen, vals, -np.inf).max(axis=1)
    empty = ~seen.any(axis=1)
    low[empty] = np.nan
    high[empty] = np.nan
    starts = times[::size]
    xs: list[datetime] = []
    ys: list[float] = []
    for t, lo, hi in zip(starts.tolist(), low.tolist(), high.tolist(), strict=True):
        xs += [_when(int(t)), _when(int(t))]
        ys += [lo, hi] if size > 1 else [lo]
        if size == 1:
            xs.pop()
    return xs, ys


def _episodes(
    fig: go.Figure,
    spans: list[tuple[int, int]],
    *,
    band: tuple[float, float],
    colour: str,
    step: int,
    least: int = 0,
) -> None:
    """Each episode as a bar in ``band`` (paper coordinates), at least ``least`` ms wide."""
    for first, last in spans[:_MOST_EPISODES]:
        last = max(last, first + least - step)
        fig.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=_when(first),
            x1=_when(last + step),
            y0=band[0],
            y1=band[1],
            fillcolor=colour,
            opacity=0.8,
            line_width=0,
        )


def charted(report: TuningReport) -> list[RuleTuning]:
    """The rules whose expression returned a signal to chart (the others never matched)."""
    return [t for t in report.tunings if len(t.result.signal.series)]


def uncharted_markdown(report: TuningReport) -> str:
    """Which rules have no chart, and why: their expression returned nothing in the window."""
    silent = [t.rule.name for t in report.tunings if not len(t.result.signal.series)]
    if not silent:
        return ""
    names = ", ".join(f"`{name}`" for name in silent)
    return (
        f"No chart for {names}: the expression returned no series in the window (a rule "
        "whose whole expression is its condition returns nothing while it does not fire)."
    )


def rule_figure(
    tuning: RuleTuning, incidents: Sequence[Incident] = (), *, points: int = 3000
) -> go.Figure:
    """The rule's signal, thresholds, firing episodes before/after, and incidents."""
    signal = tuning.result.signal
    times = signal.grid.times_ms()
    fig = go.Figure()
    for series in list(signal.series)[:6]:
        xs, ys = _envelope(times, series.values, series.present, points)
        name = ", ".join(f"{k}={v}" for k, v in sorted(series.labels.items()) if k != "__name__")
        gapped = [y if y == y else None for y in ys]  # NaN (nothing present) is a gap
        fig.add_trace(
            go.Scatter(
                x=xs, y=gapped, mode="lines", connectgaps=False, name=name or "value",
                line={"width": 1},
            )
        )  # fmt: skip
    if not fig.data:
        top = max((t for t in (tuning.rule.threshold, tuning.tuned.threshold) if t), default=1.0)
        fig.update_yaxes(range=[0, top * 1.5])
        fig.add_annotation(text="the rule's expression returned no data in the window",
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font={"size": 14, "color": "#6e40c9"})  # fmt: skip
    rule, tuned = tuning.rule, tuning.tuned
    if rule.threshold is not None:
        fig.add_hline(y=rule.threshold, line_dash="dash", line_color=_BEFORE,
                      annotation_text=f"as written {rule.threshold:g}")  # fmt: skip
    if tuned.threshold is not None and tuned.threshold != rule.threshold:
        fig.add_hline(y=tuned.threshold, line_dash="dot", line_color=_AFTER,
                      annotation_text=f"tuned {tuned.threshold:g}", annotation_position="bottom right")  # fmt: skip
    step = signal.grid.step_ms
    before = [(e.first_ms, e.last_ms) for i in tuning.result.instances for e in i.episodes]
    after = [(e.first_ms, e.last_ms) for i in tuning.tuned_instances for e in i.episodes]
    least = (signal.grid.end_ms - signal.grid.start_ms) // 250  # visible on a month
    _episodes(fig, before, band=(0.93, 0.98), colour=_BEFORE, step=step, least=least)
    _episodes(fig, after, band=(0.87, 0.92), colour=_AFTER, step=step, least=least)
    plots.time_axis(fig, _when(signal.grid.start_ms), _when(signal.grid.end_ms))
    plots.shade_incidents(fig, incidents)
    setting = (
        f"for {format_duration_ms(rule.for_ms)} → {format_duration_ms(tuned.for_ms)}"
        if tuned.for_ms != rule.for_ms
        else f"for {format_duration_ms(rule.for_ms)}"
    )
    title = (
        f"{rule.name} ({rule.labels.get('severity', 'no severity')}, {setting}): "
        f"{len(before)} episode(s) as written (upper band), {len(after)} tuned (lower band)"
    )
    if not signal.series:
        fig.add_annotation(text="the signal returned no data", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
    return plots.apply_theme(fig, title=title, height=340)


def _setting(score: Score) -> str:
    threshold = "" if score.threshold is None else f"> {score.threshold:g}, "
    keep = (
        f", keep {format_duration_ms(score.keep_firing_for_ms)}" if score.keep_firing_for_ms else ""
    )
    return f"{threshold}for {format_duration_ms(score.for_ms)}{keep}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _recall(score: Score) -> str:
    return "—" if score.recall is None else f"{score.caught}/{score.incidents}"


def scores_table(report: TuningReport) -> pd.DataFrame:
    """One row per rule: the setting, pages/week, recall, delay and flapping, before → after."""
    rows = []
    for t in report.tunings:
        a, b = t.current, t.tuned_score
        rows.append(
            {
                "rule": t.rule.name,
                "setting": _setting(a) if not t.changed else f"{_setting(a)} → {_setting(b)}",
                "pages/week": f"{a.pages_per_week:.2f} → {b.pages_per_week:.2f}",
                "recall": f"{_recall(a)} → {_recall(b)}",
                "median delay": f"{_minutes(a.median_delay_s)} → {_minutes(b.median_delay_s)}",
                "flapping": f"{a.flapping} → {b.flapping}",
                "hours firing outside incidents": f"{a.firing_outside_s / 3600:.1f} → {b.firing_outside_s / 3600:.1f}",
                "why": t.recommendation.reason,
            }
        )
    return pd.DataFrame(rows).set_index("rule") if rows else pd.DataFrame()


def pareto_figure(report: TuningReport) -> go.Figure:
    """Per swept rule: every candidate (grey), the Pareto front, as written (×), tuned (★)."""
    swept = [t for t in report.tunings if t.candidates]
    if not swept:
        fig = go.Figure()
        fig.add_annotation(text="no rule has candidates to sweep", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
        return plots.apply_theme(fig, title="Pareto fronts", height=260)
    fig = make_subplots(rows=1, cols=len(swept), subplot_titles=[t.rule.name for t in swept],
                        shared_yaxes=True)  # fmt: skip

    def hover(scores: Sequence[Score]) -> list[str]:
        return [f"{_setting(s)}<br>delay {_minutes(s.median_delay_s)}" for s in scores]

    for col, t in enumerate(swept, start=1):
        groups = [
            (t.candidates, "candidates", {"color": "#afb8c1", "size": 4}, "markers"),
            (t.front, "Pareto front", {"color": "#0969da", "size": 7}, "lines+markers"),
            ((t.current,), "as written", {"color": _BEFORE, "size": 12, "symbol": "x"}, "markers"),
            ((t.tuned_score,), "tuned", {"color": _AFTER, "size": 14, "symbol": "star"}, "markers"),
        ]
        for scores, name, marker, mode in groups:
            fig.add_trace(
                go.Scatter(
                    x=[s.pages_per_week for s in scores],
                    y=[s.recall or 0.0 for s in scores],
                    mode=mode,
                    marker=marker,
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    text=hover(scores),
                    hovertemplate="%{x:.2f} pages/week, recall %{y:.2f}<br>%{text}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="pages/week", row=1, col=col)
    fig.update_yaxes(title_text="recall", range=[-0.05, 1.05], row=1, col=1)
    return plots.apply_theme(fig, title="Pareto fronts: pages per week against recall", height=380)


def slo_table(reviews: Sequence[SLOReview]) -> pd.DataFrame:
    """Per SLO and window: the burn-rate factor and the burn one failed request causes."""
    rows = []
    for r in reviews:
        for window, factor, burn in r.single_failure_burn:
            rows.append(
                {
                    "SLO": f"{r.name} ({r.objective:.3%})",
                    "alerts": ", ".join(r.alerts),
                    "short window": window,
                    "alert at": f"{factor:g}×",
                    "quietest hour": "—"
                    if r.quietest_rps is None
                    else f"{r.quietest_rps:.2f} req/s",
                    "one failure burns": f"{burn:.2f}×",
                    "fires on one failure": "yes" if burn >= factor else "no",
                }
            )
    return pd.DataFrame(rows)


def checks_table(checks: Sequence[ToolCheck]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"check": c.name, "file": c.file, "result": c.status, "output": c.output[-400:]}
            for c in checks
        ]
    )


def tests_table(bundle: ExportBundle) -> pd.DataFrame:
    """What ``rules.test.yml`` asserts, and which alerts have no test and why."""
    rows = [
        {
            "alert": c.alert,
            "test": c.name,
            "evaluations checked": len(c.expected),
            "series": len(c.series),
        }
        for c in bundle.cases
    ]
    rows += [
        {"alert": name, "test": f"none: {why}", "evaluations checked": 0, "series": 0}
        for name, why in bundle.skipped
    ]
    return pd.DataFrame(rows)


def simulation_table(before: SimulationResult, after: SimulationResult) -> pd.DataFrame:
    """Messages and pages per receiver integration, as written → tuned."""
    rows = []
    for a, b in zip(before.counts, after.counts, strict=True):
        rows.append(
            {
                "receiver": a.receiver,
                "integration": a.integration,
                "messages": f"{a.messages} → {b.messages}",
                "per week": f"{a.per_week:.2f} → {b.per_week:.2f}",
                "pages": f"{a.pages} → {b.pages}" if a.integration.startswith("pagerduty") else "",
            }
        )
    rows.append(
        {
            "receiver": "all",
            "integration": "",
            "messages": f"{before.messages} → {after.messages}",
            "per week": "",
            "pages": f"{before.pages} → {after.pages}",
        }
    )
    return pd.DataFrame(rows)


def slo_warnings(reviews: Sequence[SLOReview]) -> str:
    """The SLO warnings as a Markdown list (or a line saying there are none)."""
    lines = [f"- {w}" for r in reviews for w in r.warnings]
    if not reviews:
        return "The environment defines no SLOs."
    return "\n".join(lines) or "No warning: every burn-rate alert needs more than one failure."


def files_markdown(bundle: ExportBundle) -> str:
    """The exported files, and ``alertmanager.yml`` itself (it holds no secrets)."""
    lines = [f"Written to `{bundle.out_dir}`:", ""]
    for path in bundle.files():
        size = path.stat().st_size if path.is_file() else 0
        lines.append(f"- `{path.name}` ({size:,} bytes)")
    secrets = bundle.alertmanager.secret_files
    if secrets:
        lines += ["", "Secret files the deploy step writes (Alertmanager reads them):", ""]
        lines += [
            f"- `{f.path}` ← `${{{f.reference}}}`" if f.reference else f"- `{f.path}`"
            for f in secrets
        ]
    text = (
        bundle.alertmanager_file.read_text(encoding="utf-8")
        if bundle.alertmanager_file.is_file()
        else ""
    )
    lines += ["", "`alertmanager.yml`:", "", "```yaml", text.rstrip(), "```"]
    return "\n".join(lines)
