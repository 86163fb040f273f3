"""A run's budget: a whole-run deadline and a per-cell timeout, and where each comes from.

Each notebook declares its defaults in its metadata (``"sreworkbook": {"budget":
{"deadline_s": 300, "cell_timeout_s": 120}}``); an environment file's ``budgets:`` section
overrides them by notebook name (``*`` for every notebook); ``sreworkbook run --deadline`` and
``--cell-timeout`` override both (a schedule job passes its own). A notebook that declares
nothing gets :data:`DEFAULT_BUDGET`.

The data sources get less than the run: they must be done :meth:`Budget.sources_s` seconds
after the start, so that a hanging dependency becomes an UNKNOWN panel and the report is still
rendered before the deadline. The deadline itself is the last resort.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from sreworkbook.config import BudgetConfig, Environment
from sreworkbook.exceptions import ParameterError

__all__ = ["DEFAULT_BUDGET", "Budget", "declared_budget", "resolve_budget"]

#: What the sources leave for the rest of the run: this share of the deadline, at least
#: :data:`_MIN_RESERVE_S` and never more than half of it.
_RESERVE = 0.2
_MIN_RESERVE_S = 5.0


@dataclass(frozen=True)
class Budget:
    """Seconds the whole run may take, and seconds one cell may take."""

    deadline_s: float
    cell_timeout_s: float

    def __post_init__(self) -> None:
        if self.deadline_s <= 0:
            raise ParameterError("must be positive", key="deadline_s")
        if self.cell_timeout_s <= 0:
            raise ParameterError("must be positive", key="cell_timeout_s")

    @property
    def sources_s(self) -> float:
        """Seconds after the start by which every call to a data source must be over."""
        reserve = min(max(self.deadline_s * _RESERVE, _MIN_RESERVE_S), self.deadline_s / 2)
        return self.deadline_s - reserve

    def describe(self) -> str:
        return f"{self.deadline_s:g} s for the run, {self.cell_timeout_s:g} s per cell"


#: For a notebook that declares no budget of its own.
DEFAULT_BUDGET = Budget(deadline_s=600.0, cell_timeout_s=300.0)


def declared_budget(notebook: Path) -> Budget:
    """The budget ``notebook`` declares in its metadata, else :data:`DEFAULT_BUDGET`."""
    try:
        metadata = nbformat.read(str(notebook), as_version=4).metadata
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read the notebook: {exc}", source=str(notebook)) from exc
    section: Any = metadata.get("sreworkbook", {}).get("budget", {})
    if not isinstance(section, Mapping):
        raise ParameterError("must be a mapping", source=str(notebook), key="sreworkbook.budget")
    return _over(DEFAULT_BUDGET, section, source=str(notebook), prefix="sreworkbook.budget.")


def resolve_budget(
    notebook: Path,
    environment: Environment,
    *,
    deadline_s: float | None = None,
    cell_timeout_s: float | None = None,
) -> Budget:
    """The budget of one run: the command line over the environment over the notebook."""
    budget = declared_budget(notebook)
    source = environment.source_file or environment.name
    for key in ("*", notebook.stem):
        config: BudgetConfig | None = environment.budgets.get(key)
        if config is not None:
            shown = config.model_dump(exclude_none=True)
            budget = _over(budget, shown, source=source, prefix=f"budgets.{key}.")
    given = {"deadline_s": deadline_s, "cell_timeout_s": cell_timeout_s}
    return _over(budget, {k: v for k, v in given.items() if v is not None}, source="command line")


def _over(base: Budget, values: Mapping[str, Any], *, source: str, prefix: str = "") -> Budget:
    """``base`` with ``values`` (``deadline_s``, ``cell_timeout_s``) replacing its fields."""
    fields = {"deadline_s": base.deadline_s, "cell_timeout_s": base.cell_timeout_s}
    for key, value in values.items():
        if key not in fields:
            raise ParameterError("expected deadline_s or cell_timeout_s", source=source,
                                 key=prefix + str(key))  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ParameterError(
                f"expected a positive number of seconds, got {value!r}",
                source=source,
                key=prefix + key,
            )
        fields[key] = float(value)
    return Budget(**fields)
