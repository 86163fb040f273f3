"""The backup drill notebook's tables and charts, from a :class:`BackupAssessment`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from sreworkbook import plots
from sreworkbook.backups.assess import BackupAssessment
from sreworkbook.backups.drill_report import DrillResult
from sreworkbook.backups.inventory import Tier
from sreworkbook.results import Finding, RunSummary, Status

__all__ = [
    "comparison_table",
    "findings_table",
    "inventory_table",
    "phase_table",
    "rto_figure",
    "rto_history",
    "size_figure",
    "verification_table",
]

_MB = 1e6


def inventory_table(assessment: BackupAssessment) -> pd.DataFrame:
    """Every copy, newest first: tier, when, age, size, verdict, and what the policy says."""
    anomalies = {(a.backup.name, a.backup.tier) for a in assessment.policy.size_anomalies}
    too_old = {(o.name, o.tier) for o in assessment.policy.too_old}
    rows = []
    for o in reversed(assessment.inventory.objects):
        checked = assessment.verification.verdict_of(o)
        notes = []
        if (o.name, o.tier) in anomalies:
            notes.append("size anomaly")
        if (o.name, o.tier) in too_old:
            notes.append("kept beyond retention")
        if assessment.drill is not None and assessment.drill.backup == o:
            notes.append("drilled")
        rows.append(
            {
                "backup": o.name,
                "tier": o.tier.value,
                "taken (UTC)": o.timestamp.strftime("%Y-%m-%d %H:%M"),
                "age (h)": round(o.age_h(assessment.now), 1),
                "size (MB)": round(o.size / _MB, 2),
                "verified": checked.label if checked else "",
                "note": ", ".join(notes),
            }
        )
    columns = ["backup", "tier", "taken (UTC)", "age (h)", "size (MB)", "verified", "note"]
    return pd.DataFrame(rows, columns=columns)


def findings_table(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings, worst first."""
    ordered = sorted(findings, key=lambda f: -f.severity.rank)
    return pd.DataFrame([f.to_dict() for f in ordered], columns=["severity", "title", "detail"])


def verification_table(
    assessment: BackupAssessment, *, problems_only: bool = False
) -> pd.DataFrame:
    """One row per verified copy (or only the unsound ones), newest first."""
    rows = assessment.verification.rows()[::-1]
    if problems_only:
        rows = [r for r in rows if r["verdict"] != "ok"]
    columns = ["backup", "tier", "verdict", "documents", "from manifest", "problem"]
    return pd.DataFrame(rows, columns=columns)


def size_figure(assessment: BackupAssessment) -> go.Figure:
    """Backup size over time per tier; unsound copies and size anomalies marked."""
    fig = go.Figure()
    policy = assessment.policy
    anomalies = {(a.backup.name, a.backup.tier) for a in policy.size_anomalies}
    for tier in sorted({o.tier for o in assessment.inventory.objects}):
        copies = assessment.inventory.tier(tier)
        local = tier is Tier.LOCAL  # drawn as rings, so that the S3 line does not hide them
        fig.add_trace(
            go.Scatter(
                x=[o.timestamp for o in copies],
                y=[o.size / _MB for o in copies],
                mode="markers" if local else "lines+markers",
                marker={"symbol": "circle-open", "size": 11} if local else {"size": 6},
                name=tier.value,
                hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y:,.2f} MB<extra>"
                + tier.value
                + "</extra>",
            )
        )
    unsound = [r.backup for r in assessment.verification.bad]
    odd = [o for o in assessment.inventory.objects if (o.name, o.tier) in anomalies]
    for label, chosen, colour, symbol in (
        ("fails verification", unsound, Status.CRIT.colour, "x"),
        ("size anomaly", odd, Status.WARN.colour, "diamond-open"),
    ):
        if chosen:
            fig.add_trace(
                go.Scatter(
                    x=[o.timestamp for o in chosen],
                    y=[o.size / _MB for o in chosen],
                    mode="markers",
                    name=label,
                    marker={"color": colour, "size": 13, "symbol": symbol},
                    text=[f"{o.name} ({o.tier.value})" for o in chosen],
                    hovertemplate="%{text}<br>%{y:,.2f} MB<extra>" + label + "</extra>",
                )
            )
    fig.update_yaxes(title_text="MB", rangemode="tozero")
    return plots.apply_theme(fig, title="Backup size per night")


def rto_history(
    runs: Sequence[RunSummary],
    current: DrillResult | None = None,
    *,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """``(finished, rto_s, status, engine)`` of past drills from the ledger, and this one."""
    rows = [
        {
            "finished": pd.Timestamp(r.finished_at),
            "rto_s": r.metrics["rto_s"],
            "status": r.status.value,
            "engine": _engine_of(r),
        }
        for r in runs
        if "rto_s" in r.metrics and r.finished_at
    ]
    if current is not None and current.succeeded and now is not None:
        rows.append(
            {
                "finished": pd.Timestamp(now),
                "rto_s": current.rto_s,
                "status": "this run",
                "engine": current.tool_version or current.engine,
            }
        )
    return pd.DataFrame(rows, columns=["finished", "rto_s", "status", "engine"])


def _engine_of(run: RunSummary) -> str:
    """The engine a past drill recorded (its ``restore engine: ...`` finding), if any."""
    prefix = "restore engine: "
    found = next((f.title for f in run.findings if f.title.startswith(prefix)), "")
    return found.removeprefix(prefix)


def rto_figure(history: pd.DataFrame, *, target_s: float | None = None) -> go.Figure:
    """Recovery time of each drill over time."""
    fig = go.Figure(
        go.Scatter(
            x=history["finished"],
            y=history["rto_s"],
            mode="lines+markers",
            name="RTO",
            text=history["status"],
            customdata=history.get("engine"),
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y:,.1f} s<br>%{customdata}<extra>%{text}</extra>",
        )
    )
    if target_s is not None:
        fig.add_hline(y=target_s, line_dash="dash", line_color=Status.CRIT.colour,
                      annotation_text=f"target {target_s:g} s")  # fmt: skip
    if history.empty:
        fig.add_annotation(text="no drill recorded yet", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
    fig.update_yaxes(title_text="seconds", rangemode="tozero")
    return plots.apply_theme(fig, title="Restore time (RTO) per drill")


def phase_table(drill: DrillResult) -> pd.DataFrame:
    """The drill's phases with their time and outcome."""
    return pd.DataFrame(drill.phase_rows(), columns=["phase", "seconds", "status", "detail"])


def comparison_table(drill: DrillResult) -> pd.DataFrame:
    """Per collection: archive against restored (and live) counts and content hashes."""
    rows = drill.comparison_rows()
    columns = [
        "collection", "archive docs", "restored docs", "archive hash", "restored hash", "match",
        "live docs", "same as live", "note",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    if frame["live docs"].isna().all():
        frame = frame.drop(columns=["live docs", "same as live"])
    return frame
