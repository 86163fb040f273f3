"""Files backend: tidy CSV/Parquet exports, windows, overall numbers, counts, bad files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sreworkbook.config import FilesMetricsConfig
from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError
from sreworkbook.sources.files import FilesBackend, read_export, write_export
from sreworkbook.sources.panels import PANELS, ROUTE_PANELS, WindowCounts

START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)


def frame(values: list[float], series: str = "all", *, step_s: int = 60) -> pd.DataFrame:
    """A panel frame with points at 10:01, 10:02, ... (bucket ends)."""
    stamps = [START + timedelta(seconds=step_s * (i + 1)) for i in range(len(values))]
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(stamps, utc=True).astype("datetime64[ns, UTC]"),
            "series": pd.Series([series] * len(values), dtype="object"),
            "value": pd.Series(values, dtype="float64"),
        }
    )


def export(path: Path) -> Path:
    routes = pd.concat(
        [frame([512.0, 533.0, 498.0], "GET /api/trades"), frame([1874.0, 1912.0], "POST /api/ai")],
        ignore_index=True,
    )
    p95 = pd.concat([frame([412.0, 437.0, 398.0, 2315.0, 398.5]), frame([612.0], "overall")])
    p95.iloc[-1, 0] = pd.Timestamp(END)  # the overall row is stamped at the window's end
    return write_export(
        {
            "latency_p95": p95,
            "mem_pct": frame([71.84, 72.06, 72.31, 91.2, 72.4]),
            "rpm": frame([1214.0, 1250.0, 1198.0, 1302.0, 1221.0]),
            "error_rate": frame([0.004, 0.012, 0.035, 0.0575, 0.0]),
            "route_p95": routes,
            "requests_total": frame([1214.0, 1250.0, 1198.0, 1302.0, 1221.0]),
            "requests_failed": frame([5.0, 15.0, 42.0, 75.0, 0.0]),
            "requests_fast": frame([1210.0, 1249.0, 1190.0, 1101.0, 1220.0], "2"),
        },
        path,
    )


@pytest.mark.parametrize("name", ["export.csv", "export.csv.gz", "export.parquet"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    backend = FilesBackend(export(tmp_path / name))
    got = backend.panel("mem_pct", START, END, 60)
    expected = frame([71.84, 72.06, 72.31, 91.2, 72.4])
    pd.testing.assert_frame_equal(got, expected, check_freq=False)
    assert got.attrs["step_s"] == 60.0


def test_panel_filters_panel_and_window(tmp_path: Path) -> None:
    backend = FilesBackend(export(tmp_path / "export.csv"))
    window = backend.panel("latency_p95", START + timedelta(minutes=2), END, 15)
    assert window["value"].tolist() == [437.0, 398.0, 2315.0, 398.5]  # no "overall" row
    routes = backend.panel("route_p95", START, END, 60)
    assert routes["series"].tolist() == ["GET /api/trades"] * 3 + ["POST /api/ai"] * 2
    empty = backend.panel("cpu_pct", START, END, 60)
    assert empty.empty and list(empty.columns) == ["timestamp", "series", "value"]
    assert empty.attrs["step_s"] == 60.0


def test_overall(tmp_path: Path) -> None:
    backend = FilesBackend(export(tmp_path / "export.csv"))
    assert backend.overall("mem_pct", START, END) == pytest.approx(75.962)  # mean of the steps
    assert backend.overall("rpm", START, END) == 1237.0
    assert backend.overall("error_rate", START, END) == 137 / 6185  # from the counters
    assert backend.overall("latency_p95", START, END) == 612.0  # the export's overall row
    later = START + timedelta(minutes=2)
    assert backend.overall("latency_p95", later, END) is None  # not for part of the export
    assert backend.overall("latency_p99", START, END) is None  # not in the export
    assert backend.overall("route_p95", START, END) is None
    assert backend.overall("cpu_pct", START, END) is None


def test_error_rate_without_counters_is_the_mean(tmp_path: Path) -> None:
    path = write_export({"error_rate": frame([0.01, 0.03])}, tmp_path / "rates.csv")
    assert FilesBackend(path).overall("error_rate", START, END) == pytest.approx(0.02)


def test_counts(tmp_path: Path) -> None:
    backend = FilesBackend(export(tmp_path / "export.csv"))
    assert backend.counts(START, END, threshold_s=2.0) == WindowCounts(6185.0, 137.0, 5970.0)
    assert backend.counts(START, END, threshold_s=0.5).fast is None  # counted for 2 s only
    assert backend.counts(START, END, threshold_s=None).fast is None
    # rows count the step ending at their timestamp: 10:01 belongs to (10:00, 10:05]
    first = backend.counts(START, START + timedelta(minutes=1), threshold_s=None)
    assert (first.total, first.failed) == (1214.0, 5.0)


def test_counts_need_request_counters(tmp_path: Path) -> None:
    path = write_export({"rpm": frame([1.0])}, tmp_path / "rpm.csv")
    with pytest.raises(SourceError, match="no requests_total rows"):
        FilesBackend(path).counts(START, END, threshold_s=None)


def test_hand_written_csv(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text(
        "panel,timestamp,value,host\n"
        "cpu_pct,2026-11-03T10:01:00Z,23.5,a\n"
        "cpu_pct,2026-11-03 10:02:00,24.0,a\n"  # no offset: UTC
        "cpu_pct,2026-11-03T12:03:00+02:00,22.75,a\n"
        "cpu_pct,2026-11-03T10:04:00Z,,a\n"  # an empty value is no observation
    )
    got = FilesBackend(path).panel("cpu_pct", START, END, 60)
    assert got["value"].tolist() == [23.5, 24.0, 22.75]
    assert got["series"].tolist() == ["all"] * 3
    assert got["timestamp"].tolist() == [
        pd.Timestamp(START + timedelta(minutes=m)) for m in (1, 2, 3)
    ]


def test_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "epoch.csv"
    path.write_text(
        "panel,timestamp,series,value\nrpm,1793700060,all,1214\nrpm,1793700120.5,all,1250\n"
    )
    data = read_export(path)
    assert data["timestamp"].tolist() == [
        pd.Timestamp("2026-11-03T10:01:00Z"),
        pd.Timestamp("2026-11-03T10:02:00.5Z"),
    ]


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="metrics export not found"):
        FilesBackend(tmp_path / "absent.csv").panel("rpm", START, END, 60)
    with pytest.raises(ParameterError, match="not a CSV or Parquet file"):
        FilesBackend(tmp_path / "export.xlsx")
    columns = tmp_path / "columns.csv"
    columns.write_text("metric,time,value\nrpm,2026-11-03T10:01:00Z,1\n")
    with pytest.raises(ParameterError, match="missing columns panel, timestamp") as info:
        read_export(columns)
    assert info.value.source == str(columns)
    times = tmp_path / "times.csv"
    times.write_text("panel,timestamp,value\nrpm,2026-11-03T10:01:00Z,1\nrpm,yesterday,2\n")
    with pytest.raises(ParameterError, match="not a time: 'yesterday'") as info:
        read_export(times)
    assert info.value.key == "timestamp"
    values = tmp_path / "values.csv"
    values.write_text("panel,timestamp,value\nrpm,2026-11-03T10:01:00Z,fast\n")
    with pytest.raises(ParameterError, match="not a number: 'fast'"):
        read_export(values)


def test_unknown_panel_and_bad_window(tmp_path: Path) -> None:
    backend = FilesBackend(export(tmp_path / "export.csv"))
    with pytest.raises(ValueError, match="unknown panel 'requests_total'") as info:
        backend.panel("requests_total", START, END, 60)
    assert all(name in str(info.value) for name in (*PANELS, *ROUTE_PANELS))
    with pytest.raises(ValueError, match="before"):
        backend.panel("rpm", END, START, 60)


def test_from_config_resolves_the_path(tmp_path: Path) -> None:
    export(tmp_path / "exports" / "prod.csv")
    config = FilesMetricsConfig(path="exports/${EXPORT_NAME}.csv")
    backend = FilesBackend.from_config(config, {"EXPORT_NAME": "prod"}, root=tmp_path)
    assert backend.path == tmp_path / "exports" / "prod.csv"
    assert len(backend.panel("rpm", START, END, 60)) == 5


def test_input_frames_are_not_changed(tmp_path: Path) -> None:
    original = frame([1.0, 2.0])
    copy = original.copy()
    write_export({"rpm": original}, tmp_path / "x.csv")
    pd.testing.assert_frame_equal(original, copy)
