"""A CSV or Parquet export in the tidy shape as a dashboard metrics backend.

An export has one row per observation, with the columns ``panel``, ``timestamp``, ``series``
and ``value`` (``series`` may be left out: it is then ``"all"``; other columns are ignored):

* ``panel`` — a dashboard panel name (``latency_p95``, ``route_errors``, ...) or one of the
  request counters ``requests_total``, ``requests_failed`` and ``requests_fast``;
* ``timestamp`` — RFC 3339 / ISO 8601 (a time without offset is UTC) or epoch seconds;
* ``series`` — ``"all"``, a route for the route panels, or ``"overall"``: one number for the
  panel over the export's whole window (its timestamp the window's end);
* ``value`` — in the panel's unit (see :mod:`sreworkbook.sources.panels`).

Files ending ``.csv`` (or ``.csv.gz``) are read with pandas; ``.parquet``/``.pq`` need pyarrow.
:func:`write_export` writes the same shape from panel frames, so an export made from any
backend reads back unchanged.

What each call answers, and what is approximated:

* :meth:`FilesBackend.panel` — the panel's rows inside ``[start, end]`` at the export's own
  resolution: ``step_s`` is not applied (``frame.attrs["step_s"]`` holds the export's).
* :meth:`FilesBackend.overall` — percentiles (latency, ``db_p95``, web vitals) cannot be
  derived from per-step percentiles, so they come only from an ``overall`` row, and only
  when the window asked for holds every row of that panel (else None). The error rate is
  failed ÷ total from the request counters when they are there, else the mean of the
  per-step rates (unweighted: an approximation). Throughput, memory, CPU and active users
  are the mean of the per-step values (exact for throughput with even steps; an
  approximation of the time average for gauges). Route panels: None.
* :meth:`FilesBackend.counts` — sums of the counter rows stamped in ``(start, end]`` (each
  row counts the requests of the step that ends at its timestamp). ``requests_fast`` rows
  carry the latency threshold in seconds as their ``series`` (e.g. ``"2"``) and are used
  only for that threshold.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from sreworkbook.config import FilesMetricsConfig
from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError
from sreworkbook.secrets import resolve
from sreworkbook.sources.panels import (
    ROUTE_PANELS,
    WindowCounts,
    check_panel,
    empty_frame,
)

__all__ = ["COUNT_PANELS", "OVERALL", "FilesBackend", "read_export", "write_export"]

COUNT_PANELS = ("requests_total", "requests_failed", "requests_fast")
#: The ``series`` of a row holding one number for the export's whole window.
OVERALL = "overall"
_COLUMNS = ("panel", "timestamp", "series", "value")
_MEANS = {"rpm", "mem_pct", "cpu_pct", "active_users"}
_CSV = (".csv", ".csv.gz")
_PARQUET = (".parquet", ".pq")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_CSV):
        return "csv"
    if name.endswith(_PARQUET):
        return "parquet"
    raise ParameterError("not a CSV or Parquet file (.csv, .csv.gz, .parquet)", source=str(path))


def _need_parquet() -> None:
    if importlib.util.find_spec("pyarrow") is None:
        raise ImportError("Parquet exports need pyarrow: please run pip install pyarrow")


def _timestamps(column: pd.Series, path: Path) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return pd.Series(column.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(column):
        return pd.Series(column.dt.tz_localize("UTC"))
    if pd.api.types.is_numeric_dtype(column):
        return pd.to_datetime(column.astype("float64"), unit="s", utc=True)
    try:
        return pd.to_datetime(column.astype(str), utc=True, format="ISO8601")
    except (ValueError, TypeError):
        for text in column.astype(str):
            try:
                pd.to_datetime(text, utc=True, format="ISO8601")
            except (ValueError, TypeError):
                raise ParameterError(
                    f"not a time: {text!r} (use RFC 3339 like 2026-11-01T00:00:00Z, "
                    "or epoch seconds)",
                    source=str(path),
                    key="timestamp",
                ) from None
        raise


def read_export(path: str | Path) -> pd.DataFrame:
    """An export as one validated frame: panel, timestamp (UTC), series, value."""
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise MissingFileError(str(path), what="metrics export")
    try:
        if kind == "parquet":
            _need_parquet()
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype={"panel": str, "series": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read: {exc}", source=str(path)) from exc
    missing = [c for c in ("panel", "timestamp", "value") if c not in raw.columns]
    if missing:
        raise ParameterError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(an export has the columns {', '.join(_COLUMNS)})",
            source=str(path),
        )
    values = pd.to_numeric(raw["value"], errors="coerce")
    bad = values.isna() & raw["value"].notna()
    if bad.any():
        raise ParameterError(
            f"not a number: {raw['value'][bad].iloc[0]!r}", source=str(path), key="value"
        )
    series = raw["series"] if "series" in raw.columns else pd.Series("all", index=raw.index)
    frame = pd.DataFrame(
        {
            "panel": raw["panel"].astype(str).str.strip(),
            "timestamp": _timestamps(raw["timestamp"], path).astype("datetime64[ns, UTC]"),
            "series": series.fillna("all").astype(str).astype("object"),
            "value": values.astype("float64"),
        }
    )
    return frame.dropna(subset=["value"]).reset_index(drop=True)


def write_export(frames: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write panel frames (timestamp, series, value) as one export; CSV or Parquet by suffix."""
    path = Path(path)
    kind = _kind(path)
    parts = [
        frame.loc[:, ["timestamp", "series", "value"]].assign(panel=name)
        for name, frame in frames.items()
        if not frame.empty
    ]
    data = pd.concat(parts, ignore_index=True) if parts else empty_frame().assign(panel="")
    data = data.loc[:, list(_COLUMNS)]
    data["timestamp"] = pd.to_datetime(data["timestamp"], utc=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        _need_parquet()
        data.to_parquet(path, index=False)
    else:
        data = data.assign(timestamp=data["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        data.to_csv(path, index=False)
    return path


def _utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class FilesBackend:
    """The dashboard's panels read from one export file (read once, on first use)."""

    name = "files"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _kind(self.path)
        self._data: pd.DataFrame | None = None

    @classmethod
    def from_config(
        cls,
        config: FilesMetricsConfig,
        environ: Mapping[str, str] | None = None,
        *,
        root: Path | None = None,
    ) -> FilesBackend:
        """A backend for ``config``; a relative path is taken from ``root`` when given."""
        path = Path(resolve(config.path, environ or {}, key="metrics.files.path"))
        return cls(root / path if root is not None and not path.is_absolute() else path)

    def __repr__(self) -> str:
        return f"FilesBackend({str(self.path)!r})"

    @property
    def data(self) -> pd.DataFrame:
        """The whole export, validated and kept: shared, so read it, do not change it."""
        if self._data is None:
            self._data = read_export(self.path)
        return self._data

    # -- the MetricsBackend protocol -----------------------------------------------------------
    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        """The panel's rows inside ``[start, end]``, at the export's own resolution."""
        check_panel(panel)
        if step_s <= 0:
            raise ValueError("step must be positive")
        rows = self._rows(panel, start, end)
        rows = rows[rows["series"] != OVERALL]
        frame = rows.loc[:, ["timestamp", "series", "value"]]
        frame = frame.sort_values(["series", "timestamp"], ignore_index=True)
        if frame.empty:
            frame = empty_frame()
        spacing = frame.groupby("series")["timestamp"].diff().dt.total_seconds().median()
        frame.attrs.update(
            step_s=float(spacing) if not math.isnan(spacing) else float(step_s),
            query=f"{self.path} panel={panel}",
        )
        return frame

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        """One number for the window; see the module notes for what is approximated."""
        check_panel(panel)
        if panel in ROUTE_PANELS:
            return None
        rows = self._rows(panel, start, end)
        steps = rows[rows["series"] == "all"]["value"]
        if panel == "error_rate" and self._has("requests_total", start, end):
            counts = self.counts(start, end, threshold_s=None)
            return counts.failed / counts.total if counts.total else None
        if panel in _MEANS or panel == "error_rate":
            return float(steps.mean()) if not steps.empty else None
        overall = rows[rows["series"] == OVERALL]["value"]
        every = self.data[self.data["panel"] == panel]
        if overall.empty or len(rows) != len(every):
            return None
        return float(overall.iloc[-1])

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        """Sums of the request counter rows in ``(start, end]``."""
        if not (self.data["panel"] == "requests_total").any():
            raise SourceError(
                f"{self.path} has no requests_total rows (counts need requests_total and "
                "requests_failed)",
                source=self.name,
            )

        def summed(panel: str) -> float:
            rows = self._rows(panel, start, end, inclusive="right")
            return float(rows[rows["series"] == "all"]["value"].sum())

        fast: float | None = None
        if threshold_s is not None:
            rows = self._rows("requests_fast", start, end, inclusive="right")
            limits = pd.to_numeric(rows["series"], errors="coerce")
            matching = rows[(limits - threshold_s).abs() < 1e-9]["value"]
            fast = float(matching.sum()) if not matching.empty else None
        return WindowCounts(
            total=summed("requests_total"), failed=summed("requests_failed"), fast=fast
        )

    # -- helpers ---------------------------------------------------------------------------
    def _rows(
        self,
        panel: str,
        start: datetime,
        end: datetime,
        *,
        inclusive: Literal["both", "right"] = "both",
    ) -> pd.DataFrame:
        if _utc(end) <= _utc(start):
            raise ValueError("start must be before end")
        data = self.data
        mine = data[data["panel"] == panel]
        inside = mine["timestamp"].between(_utc(start), _utc(end), inclusive=inclusive)
        return mine[inside]

    def _has(self, panel: str, start: datetime, end: datetime) -> bool:
        return not self._rows(panel, start, end, inclusive="right").empty
