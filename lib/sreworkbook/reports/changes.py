"""What changed since the previous run: new problems and resolved ones, from the findings."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sreworkbook.exceptions import ParameterError
from sreworkbook.reports.ledger import Ledger
from sreworkbook.results import Finding, RunSummary
from sreworkbook.timeutil import human_time

__all__ = ["Changes", "changes_since", "compare"]


@dataclass(frozen=True)
class Changes:
    """Findings that appeared, disappeared or changed severity between two runs."""

    previous_run: str | None
    previous_at: str | None
    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    ongoing: tuple[Finding, ...]

    @property
    def headline(self) -> str:
        if self.previous_run is None:
            return "First run for this notebook and environment: nothing to compare with."
        if not self.new and not self.resolved:
            return f"No change since the previous run ({self._when()})."
        return (
            f"Since the previous run ({self._when()}): {len(self.new)} new problem(s), "
            f"{len(self.resolved)} resolved."
        )

    def _when(self) -> str:
        """When the previous run finished, as a person reads it."""
        if not self.previous_at:
            return "time unknown"
        try:
            return human_time(self.previous_at)
        except ParameterError:
            return self.previous_at

    def _repr_html_(self) -> str:
        def items(findings: tuple[Finding, ...], label: str) -> str:
            if not findings:
                return ""
            rows = "".join(
                f'<li><span class="swb-badge" style="background:{f.severity.colour}">'
                f"{f.severity.value}</span> {html.escape(f.title)}"
                f"{' — ' + html.escape(f.detail) if f.detail else ''}</li>"
                for f in findings
            )
            return f"<p><b>{label}</b></p><ul>{rows}</ul>"

        return (
            f'<div class="swb-changes"><p>{html.escape(self.headline)}</p>'
            f"{items(self.new, 'New problems')}{items(self.resolved, 'Resolved')}"
            f"{items(self.ongoing, 'Still open')}</div>"
        )


def compare(previous: RunSummary | None, current: Sequence[Finding]) -> Changes:
    """Compare ``current`` findings with those of ``previous`` by title and severity."""
    if previous is None:
        return Changes(None, None, tuple(current), (), ())
    before = {(f.title, f.severity): f for f in previous.findings}
    now = {(f.title, f.severity): f for f in current}
    return Changes(
        previous_run=previous.run_id,
        previous_at=previous.finished_at or previous.started_at,
        new=tuple(f for key, f in now.items() if key not in before),
        resolved=tuple(f for key, f in before.items() if key not in now),
        ongoing=tuple(f for key, f in now.items() if key in before),
    )


def changes_since(
    outputs_dir: str | Path, notebook: str, env: str, current: Sequence[Finding]
) -> Changes:
    """Compare ``current`` with the last finished run of ``notebook`` on ``env`` in the ledger."""
    ledger = Ledger(Path(outputs_dir) / "ledger.jsonl")
    return compare(ledger.latest(notebook=notebook, env=env), current)
