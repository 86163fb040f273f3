"""Winston records as a tidy frame: the known fields under one name each, and the filter.

Winston writes ``timestamp`` or ``@timestamp``, ``correlationId`` or ``requestId``,
``"duration": "165ms"`` or ``165``: :data:`LOG_COLUMNS` are the one name of each, in a fixed
order, with ``duration_ms`` a number and ``statusCode`` an integer; the other fields follow as
written. A line without a readable timestamp is a bad line (counted by the scanner, never
raised). :class:`LogFilter` says which records a scan keeps.
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import pandas as pd

from sreworkbook.timeutil import parse_time

__all__ = [
    "LOG_COLUMNS",
    "LogFilter",
    "columnar_frame",
    "decode",
    "duration_ms",
    "empty_log_frame",
    "records_frame",
]

#: The tidy columns every frame starts with; the other fields of a record follow as written.
LOG_COLUMNS = (
    "ts", "level", "message", "service", "correlationId", "method", "url", "route",
    "statusCode", "duration_ms", "userId", "stack", "file",
)  # fmt: skip
_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "@timestamp", "time"),
    "correlationId": ("correlationId", "correlation_id", "requestId", "reqId"),
    "userId": ("userId", "user_id"),
    "duration_ms": ("duration", "responseTime", "durationMs", "duration_ms"),
    "statusCode": ("statusCode", "status"),
}
_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "min": 6e4, "h": 3.6e6}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|min|m|h)?\s*$", re.IGNORECASE)
#: Decodes one JSON line (msgspec).
decode = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class LogFilter:
    """Which records a scan keeps. Empty sets and ``None`` keep everything."""

    start: datetime | None = None
    end: datetime | None = None
    levels: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()  # a route ("/api/orders/:id") or a URL path
    statuses: frozenset[int] = frozenset()
    users: frozenset[str] = frozenset()
    text: str | None = None  # case-insensitive, in any text field
    correlation_id: str | None = None

    @classmethod
    def of(
        cls,
        *,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        level: str | Iterable[str] | None = None,
        service: str | Iterable[str] | None = None,
        route: str | Iterable[str] | None = None,
        status: int | Iterable[int] | None = None,
        user: str | Iterable[str] | None = None,
        text: str | None = None,
        correlation_id: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> LogFilter:
        """A filter from loose values (one or several; empty means any), e.g. from widgets."""

        def many(value: Any) -> frozenset[Any]:
            if value is None or value == "":
                return frozenset()
            return frozenset([value] if isinstance(value, str | int) else value)

        return cls(
            start=parse_time(start, name="start", now=now) if start else None,
            end=parse_time(end, name="end", now=now) if end else None,
            levels=frozenset(v.lower() for v in many(level)),
            services=many(service),
            routes=many(route),
            statuses=frozenset(int(v) for v in many(status)),
            users=many(user),
            text=text or None,
            correlation_id=(correlation_id or "").strip() or None,
        )


def duration_ms(value: Any) -> float | None:
    """``165`` → 165.0, ``"165ms"`` → 165.0, ``"1.2s"`` → 1200.0; anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * _UNITS[(match.group(2) or "ms").lower()]


_DTYPES = {"ts": "datetime64[ns, UTC]", "statusCode": "Int64", "duration_ms": "float64"}
_CONSUMED = {alias for aliases in _ALIASES.values() for alias in aliases} | set(LOG_COLUMNS)
_TEXT_FIELDS = sorted(_CONSUMED - {"ts", "file", "duration_ms"})
_HAS_ARROW = importlib.util.find_spec("pyarrow") is not None
_ARROW_TEXT = pd.StringDtype("pyarrow" if _HAS_ARROW else "python")
_NUMERIC = ("statusCode", "duration_ms")
_DURATION_RE2 = r"(?i)^\s*(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<u>ns|us|µs|ms|s|min|m|h)?\s*$"


def empty_log_frame(keep_raw: bool = False) -> pd.DataFrame:
    """A frame of no records, with :data:`LOG_COLUMNS` typed (and ``raw`` when asked)."""
    columns = [*LOG_COLUMNS, "raw"] if keep_raw else list(LOG_COLUMNS)
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "object")) for c in columns})


def columnar_frame(block: bytes, extras: bool) -> pd.DataFrame | None:
    """A block parsed and normalised by polars (``ts`` still text); None if a line is bad.

    Without ``extras`` only the known fields are read (about twice as fast). Also None
    without polars and pyarrow (the ``fast`` extra): the caller then reads line by line.
    """
    if not _HAS_ARROW:
        return None
    try:
        import polars as pl
    except ImportError:
        return None
    try:
        if extras:
            table = pl.read_ndjson(io.BytesIO(block), infer_schema_length=None, ignore_errors=True)
        else:
            schema = dict.fromkeys(_TEXT_FIELDS, pl.String)
            table = pl.read_ndjson(io.BytesIO(block), schema=schema, ignore_errors=True)

        def pick(name: str) -> pl.Expr:
            present = [a for a in _ALIASES.get(name, (name,)) if a in table.columns]
            if not present:
                return pl.lit(None, dtype=pl.String)
            return pl.coalesce([pl.col(a).cast(pl.String) for a in present])

        duration = pick("duration_ms").str.extract_groups(_DURATION_RE2)
        unit = duration.struct.field("u").str.to_lowercase()
        tidy = [
            pick("ts").alias("ts"),
            pick("level").str.to_lowercase().alias("level"),
            *(pick(c).alias(c) for c in LOG_COLUMNS[2:-1] if c not in _NUMERIC),
            pick("statusCode").cast(pl.Float64, strict=False).alias("statusCode"),
            (
                duration.struct.field("n").cast(pl.Float64, strict=False)
                * unit.replace_strict(_UNITS, default=1.0, return_dtype=pl.Float64).fill_null(1.0)
            ).alias("duration_ms"),
        ]
        rest = [pl.col(c) for c in table.columns if c not in _CONSUMED]
        return table.select(*tidy, *rest).to_pandas()
    except (pl.exceptions.PolarsError, ValueError):
        return None


def _pick(raw: pd.DataFrame, name: str) -> pd.Series:
    present = [k for k in _ALIASES.get(name, (name,)) if k in raw.columns]
    if not present:
        return pd.Series(None, index=raw.index, dtype=object)
    column = raw[present[0]]
    for alias in present[1:]:
        column = column.where(column.notna(), raw[alias])
    return column


def _durations(values: pd.Series) -> pd.Series:
    """Milliseconds from numbers and ``"165ms"``/``"1.2s"`` text, vectorised (Arrow's RE2)."""
    if not _HAS_ARROW:
        parts = values.astype(_ARROW_TEXT).str.extract(_DURATION_RE2)
        factor = parts["u"].str.lower().map(_UNITS).astype("float64").fillna(1.0)
        number = pd.to_numeric(parts["n"], errors="coerce").astype("float64")
        return pd.Series((number * factor).to_numpy(dtype="float64"), index=values.index)
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.astype(_ARROW_TEXT), type=pa.string())
    parts = pc.extract_regex(
        text, r"(?i)^\s*(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<u>ns|us|µs|ms|s|min|m|h)?\s*$"
    )
    number = pc.cast(pc.struct_field(parts, "n"), pa.float64()).to_pandas()
    unit = pc.utf8_lower(pc.struct_field(parts, "u")).to_pandas()
    factor = unit.map(_UNITS).astype("float64").fillna(1.0)
    return pd.Series((number * factor).to_numpy(dtype="float64"), index=values.index)


def records_frame(
    raw: pd.DataFrame,
    name: str,
    filt: LogFilter,
    bad: Callable[[bytes], None],
    keep_raw: bool,
    *,
    tidy: bool = False,
) -> pd.DataFrame:
    """The tidy frame of the ``raw`` records that pass ``filt``; no time means a bad line
    (told to ``bad``).

    ``tidy``: ``raw`` comes from :func:`columnar_frame`, its known columns already normalised.
    """
    stamps = (raw["ts"] if tidy else _pick(raw, "ts")).astype(_ARROW_TEXT)
    ts = pd.to_datetime(stamps, utc=True, format="ISO8601", errors="coerce")
    if ts.isna().any():
        for at in ts.index[ts.isna()]:
            bad(msgspec.json.encode(raw.loc[at].dropna().to_dict()))
    keep = ts.notna()
    if filt.start is not None:
        keep &= ts >= filt.start
    if filt.end is not None:
        keep &= ts < filt.end
    if not keep.any():
        return empty_log_frame(keep_raw)
    if not keep.all():
        raw, ts = raw[keep], ts[keep]
    data: dict[str, Any] = {"ts": ts}
    for column in LOG_COLUMNS[1:-1]:
        data[column] = raw[column] if tidy else _pick(raw, column)
    if not tidy:
        data["level"] = data["level"].astype(_ARROW_TEXT).str.lower()
        data["duration_ms"] = _durations(data["duration_ms"])
    data["level"] = data["level"].astype(object)
    status = pd.to_numeric(data["statusCode"], errors="coerce").astype("float64")
    data["statusCode"] = status.where(status % 1 == 0).astype("Int64")
    data["file"] = name
    consumed = set(LOG_COLUMNS) if tidy else _CONSUMED
    for extra in sorted(set(raw.columns) - consumed - {"raw"}):
        data[extra] = raw[extra].astype(object)
    if keep_raw:
        data["raw"] = raw["raw"]
    frame = pd.DataFrame(data).reset_index(drop=True)
    return frame[_matches(frame, filt)].reset_index(drop=True)


def _matches(frame: pd.DataFrame, filt: LogFilter) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    if filt.correlation_id:
        keep &= frame["correlationId"] == filt.correlation_id
    if filt.levels:
        keep &= frame["level"].isin(filt.levels)
    if filt.services:
        keep &= frame["service"].isin(filt.services)
    if filt.statuses:
        keep &= frame["statusCode"].isin(filt.statuses).fillna(False).astype(bool)
    if filt.users:
        keep &= frame["userId"].isin(filt.users)
    if filt.routes:
        paths = frame["url"].map(lambda u: u.split("?", 1)[0] if isinstance(u, str) else None)
        keep &= frame["route"].isin(filt.routes) | paths.isin(filt.routes)
    if filt.text:
        needle = filt.text.casefold()
        hit = pd.Series(False, index=frame.index)
        for column in frame.columns:
            if column in ("ts", "statusCode", "duration_ms", "raw"):
                continue
            hit |= frame[column].map(lambda v: isinstance(v, str) and needle in v.casefold())
        keep &= hit
    return keep.astype(bool)
