"""sreworkbook.sources.logs on logs written by the real winston + winston-daily-rotate-file."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.sources.logs import (
    LOG_COLUMNS,
    LocalLogStore,
    LogFilter,
    LogLayout,
    LogScanner,
    S3LogStore,
    duration_ms,
    open_log_store,
    read_logs,
    select_files,
)
from support import servers
from support.cli import winston_module

W = winston_module()
Truth = dict[str, Any]


@pytest.fixture(scope="session")
def winston(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    result: tuple[Path, Truth] = W.generate(tmp_path_factory.getbasetemp() / "winston-logs")
    return result


@pytest.fixture
def log_copy(winston: tuple[Path, Truth], tmp_path: Path) -> Path:
    """A copy of the winston logs that a test may change."""
    return Path(shutil.copytree(winston[0], tmp_path / "logs"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (165, 165.0),
        (1.5, 1.5),
        ("165ms", 165.0),
        ("1.2s", 1200.0),
        ("2 s", 2000.0),
        ("250", 250.0),
        ("3m", 180000.0),
        ("40us", 0.04),
        ("fast", None),
        (None, None),
        (True, None),
    ],
)
def test_duration_ms(value: object, expected: float | None) -> None:
    assert duration_ms(value) == expected


LISTING = [
    ("combined-2024-03-09.log.gz", 10),
    ("combined-2024-03-10.log.gz", 10),
    ("combined-2024-03-10.log", 10),  # a half-written archive beside its plain file
    ("combined-2024-03-11.log", 10),
    ("combined-2024-03-11.log.1", 10),  # a maxSize split
    ("error-2024-03-08.log.gz", 10),  # the combined file of that day is gone
    ("error-2024-03-09.log.gz", 10),
    ("error-2024-03-11.log", 10),
    (".6b1c-audit.json", 10),
    ("combined.log", 10),
]


def names(files: list[Any]) -> list[str]:
    return [f.name for f in files]


def test_select_files_takes_only_the_days_touched_and_no_error_duplicates() -> None:
    layout = LogLayout()
    assert names(select_files(LISTING, layout)) == [
        "error-2024-03-08.log.gz",
        "combined-2024-03-09.log.gz",
        "combined-2024-03-10.log",
        "combined-2024-03-11.log",
        "combined-2024-03-11.log.1",
    ]
    inside = select_files(LISTING, layout, at("2024-03-10T08:00"), at("2024-03-10T09:00"))
    assert names(inside) == ["combined-2024-03-10.log"]
    midnight = select_files(LISTING, layout, at("2024-03-09T23:30"), at("2024-03-10T00:30"))
    assert names(midnight) == ["combined-2024-03-09.log.gz", "combined-2024-03-10.log"]
    # A line stamped 23:59:59.999 may land in the next day's file: that file is read too.
    late = select_files(LISTING, layout, at("2024-03-09T22:00"), at("2024-03-09T23:59:30"))
    assert names(late) == ["combined-2024-03-09.log.gz", "combined-2024-03-10.log"]
    day = select_files(LISTING, layout, at("2024-03-10T00:00"), at("2024-03-10T23:00"))
    assert names(day) == ["combined-2024-03-10.log"]
    assert names(select_files(LISTING, layout, at("2024-03-08T10:00"), at("2024-03-08T11:00"))) == [
        "error-2024-03-08.log.gz"
    ]


def test_select_files_other_layouts() -> None:
    hourly = LogLayout(
        combined="app-%DATE%.json", error="err-%DATE%.json", date_pattern="YYYYMMDD-HH"
    )
    listing = [
        ("app-20240310-07.json", 1),
        ("app-20240310-08.json.gz", 1),
        ("app-20240310-09.json", 1),
    ]
    assert names(select_files(listing, hourly, at("2024-03-10T08:10"), at("2024-03-10T08:50"))) == [
        "app-20240310-08.json.gz"
    ]
    berlin = LogLayout(file_tz=ZoneInfo("Europe/Berlin"), late_margin=timedelta(0))
    listing = [("combined-2024-03-10.log", 1), ("combined-2024-03-11.log", 1)]
    # 23:30 UTC on the 10th is already the 11th in Berlin.
    assert names(select_files(listing, berlin, at("2024-03-10T23:30"), at("2024-03-10T23:45"))) == [
        "combined-2024-03-11.log"
    ]
    with pytest.raises(ParameterError):
        select_files(listing, LogLayout(combined="combined.log"))


def test_missing_directory_and_bad_window() -> None:
    with pytest.raises(MissingFileError):
        open_log_store("/nonexistent/logs")
    with pytest.raises(ParameterError, match="not an s3:// URL"):
        open_log_store("s3:///logs")  # no bucket
    with pytest.raises(ParameterError):
        LogScanner(
            LocalLogStore("/"), LogFilter(start=at("2024-03-10T01:00"), end=at("2024-03-10T00:00"))
        )


# ------------------------------------------------------------------ real winston files
def test_generator_rotated_by_the_fake_date_and_gzipped_older_days(
    winston: tuple[Path, Truth],
) -> None:
    folder, truth = winston
    assert truth["rotation_verified"] is True
    on_disk = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert on_disk == sorted(truth["files"])
    gzipped = [n for n, f in truth["files"].items() if f["gzip"]]
    assert len(gzipped) == 2 * (truth["generator"]["days"] - 1)


def test_full_read_matches_the_truth_exactly(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    read = read_logs(LocalLogStore(folder))
    frame, stats = read.frame, read.stats
    assert len(frame) == len(truth["events"])
    assert stats.malformed_lines == truth["malformed_lines"] == 5
    combined = [f for f in truth["files"].values() if f["kind"] == "combined"]
    assert stats.lines_scanned == sum(f["records"] + f["malformed"] + f["blank"] for f in combined)
    assert stats.files == tuple(sorted(n for n in truth["files"] if n.startswith("combined-")))
    assert list(frame.columns[: len(LOG_COLUMNS)]) == list(LOG_COLUMNS)
    assert str(frame["ts"].dt.tz) == "UTC"
    assert frame["ts"].is_monotonic_increasing
    expected = sorted(W.ts(e["ts"]) for e in truth["events"])
    assert [t.to_pydatetime() for t in frame["ts"]] == expected
    assert Counter(frame["level"]) == Counter(e["level"] for e in truth["events"])
    assert frame["statusCode"].dtype == "Int64"
    done = [e for e in truth["events"] if e["kind"] == "completed"]
    assert frame["statusCode"].notna().sum() == len(done)
    assert sorted(frame["duration_ms"].dropna()) == sorted(
        [float(e["duration_ms"]) for e in done]
        + [d for d in frame.loc[frame["service"] == "ai-service", "duration_ms"].dropna()]
    )
    assert {"ip", "model"} <= set(frame.columns)  # raw fields kept


def test_malformed_lines_are_counted_not_raised(winston: tuple[Path, Truth]) -> None:
    stats = read_logs(LocalLogStore(winston[0])).stats
    examples = " | ".join(stats.malformed_examples)
    assert "[nodemon] app crashed" in examples  # noise inside a gzipped file
    assert "EADDRINUSE" in examples and "setupListenHandle" in examples  # stderr noise
    assert '"message":"Incoming req' in examples  # the truncated last line
    assert "legacy line without a timestamp" in examples  # JSON but no time


def test_window_crossing_midnight(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    start, end = at("2024-03-10T23:30"), at("2024-03-11T00:30")
    read = read_logs(LocalLogStore(folder), LogFilter(start=start, end=end))
    assert len(read.frame) == len(W.events(truth, start, end))
    assert read.stats.files == ("combined-2024-03-10.log.gz", "combined-2024-03-11.log.gz")
    assert set(read.frame["file"]) == set(read.stats.files)


def test_utc_window_given_in_a_zone_crossing_dst(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    new_york = ZoneInfo("America/New_York")  # clocks jump 02:00 → 03:00 on 2024-03-10
    start = datetime(2024, 3, 10, 0, 0, tzinfo=new_york)  # 05:00Z
    end = datetime(2024, 3, 10, 6, 0, tzinfo=new_york)  # 10:00Z: 5 h, not 6
    read = read_logs(LocalLogStore(folder), LogFilter(start=start, end=end))
    assert len(read.frame) == len(W.events(truth, at("2024-03-10T05:00"), at("2024-03-10T10:00")))
    assert read.frame["ts"].min() >= pd.Timestamp("2024-03-10T05:00Z")


@pytest.mark.parametrize("block_bytes", [4093, 64 << 10])
def test_small_blocks_and_time_skipping_change_nothing(
    winston: tuple[Path, Truth], block_bytes: int
) -> None:
    folder, truth = winston
    start, end = at("2024-03-11T13:55"), at("2024-03-11T14:25")
    filt = LogFilter(start=start, end=end)
    unordered = LogLayout(order_slack=None)
    frames = list(LogScanner(LocalLogStore(folder), filt, block_bytes=block_bytes).frames())
    scanner = LogScanner(LocalLogStore(folder), filt, layout=unordered, block_bytes=block_bytes)
    full = list(scanner.frames())
    assert sum(map(len, frames)) == sum(map(len, full)) == len(W.events(truth, start, end))


@pytest.mark.parametrize(
    ("filt", "predicate"),
    [
        (LogFilter(levels=frozenset({"error"})), lambda e: e["level"] == "error"),
        (LogFilter(levels=frozenset({"warn", "error"})), lambda e: e["level"] in ("warn", "error")),
        (LogFilter(services=frozenset({"ai-service"})), lambda e: e["service"] == "ai-service"),
        (LogFilter(statuses=frozenset({404})), lambda e: e.get("status") == 404),
        (
            LogFilter(routes=frozenset({"/api/trades"})),
            lambda e: e["route"] == "/api/trades",
        ),
        (LogFilter(text="econnrefused"), lambda e: "ECONNREFUSED" in e["message"]),
        (LogFilter(text="Server Selection"), lambda e: e.get("template") == "db-timeout"),
    ],
)
def test_filters(winston: tuple[Path, Truth], filt: LogFilter, predicate: Any) -> None:
    folder, truth = winston
    read = read_logs(LocalLogStore(folder), filt)
    assert len(read.frame) == sum(1 for e in truth["events"] if predicate(e))


def test_filter_from_loose_values() -> None:
    filt = LogFilter.of(
        start="2024-03-11T14:00",
        end="now",
        level="ERROR",
        status=[500, "502"],
        route="",
        now=lambda: at("2024-03-11T15:00"),
    )
    assert filt == LogFilter(
        start=at("2024-03-11T14:00"),
        end=at("2024-03-11T15:00"),
        levels=frozenset({"error"}),
        statuses=frozenset({500, 502}),
    )
    with pytest.raises(ParameterError):
        LogFilter.of(start="later")


def test_user_filter(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    user = Counter(e["user"] for e in truth["events"] if e["user"]).most_common(1)[0][0]
    read = read_logs(LocalLogStore(folder), LogFilter(users=frozenset({user})))
    written = [e for e in truth["events"] if e["user"] == user and e["service"] != "ai-service"]
    assert len(read.frame) == len(written)  # the AI service does not log the user
    assert set(read.frame["userId"]) == {user}


def test_correlation_id_prefilter_parses_only_its_lines(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    cid = truth["known"]["midnight"]
    read = read_logs(LocalLogStore(folder), LogFilter(correlation_id=cid), keep_raw=True)
    expected = [e for e in truth["events"] if e["cid"] == cid]
    assert len(read.frame) == len(expected) == 4
    assert read.stats.prefiltered
    assert read.stats.lines_scanned == len(expected)  # only lines holding the ID are parsed
    assert read.stats.malformed_lines == 0
    assert [r["timestamp"] for r in read.frame["raw"]] == [e["ts"] for e in expected]


@pytest.mark.parametrize("window", [False, True])  # grep -F over whole files; mmap + find
def test_a_truncated_candidate_line_is_counted_as_malformed(
    winston: tuple[Path, Truth], window: bool
) -> None:
    folder = winston[0]
    start, end = (at("2024-03-12T00:00"), at("2024-03-13T00:00")) if window else (None, None)
    cid = "trunc000-0000-4000-8000-000000000000"  # the last, cut-off line of the newest file
    read = read_logs(LocalLogStore(folder), LogFilter(correlation_id=cid, start=start, end=end))
    assert len(read.frame) == 0
    assert (read.stats.lines_scanned, read.stats.malformed_lines) == (1, 1)


def test_error_file_is_read_only_for_days_without_combined(
    log_copy: Path, winston: tuple[Path, Truth]
) -> None:
    truth = winston[1]
    (log_copy / "combined-2024-03-10.log.gz").unlink()
    day = (at("2024-03-10T00:00"), at("2024-03-11T00:00"))
    read = read_logs(LocalLogStore(log_copy), LogFilter(start=day[0], end=day[1]))
    # The next day's file is opened for late lines, and left at its first block.
    assert read.stats.files == ("error-2024-03-10.log.gz", "combined-2024-03-11.log.gz")
    assert len(read.frame) == sum(1 for e in W.events(truth, *day) if e["level"] == "error")
    errors = read_logs(LocalLogStore(log_copy), LogFilter(levels=frozenset({"error"})))
    assert len(errors.frame) == sum(1 for e in truth["events"] if e["level"] == "error")


def test_plain_file_wins_over_its_half_written_archive(
    log_copy: Path, winston: tuple[Path, Truth]
) -> None:
    truth = winston[1]
    archive = log_copy / "combined-2024-03-11.log.gz"
    (log_copy / "combined-2024-03-11.log").write_bytes(gzip.decompress(archive.read_bytes()))
    archive.write_bytes(archive.read_bytes()[:200])
    read = read_logs(LocalLogStore(log_copy))
    assert len(read.frame) == len(truth["events"])
    assert read.stats.damaged_files == ()


def test_truncated_gzip_is_reported_and_read_as_far_as_it_goes(log_copy: Path) -> None:
    archive = log_copy / "combined-2024-03-09.log.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    read = read_logs(LocalLogStore(log_copy), LogFilter(end=at("2024-03-10T00:00")))
    assert read.stats.damaged_files == ("combined-2024-03-09.log.gz",)
    assert len(read.frame) > 0


def test_s3_prefix_through_an_injected_client(winston: tuple[Path, Truth]) -> None:
    folder, truth = winston
    with servers.moto() as endpoint:
        client = servers.s3_client(endpoint)
        client.create_bucket(Bucket="logs")
        for path in folder.iterdir():
            client.upload_file(str(path), "logs", f"prod/backend/{path.name}")
        client.put_object(Bucket="logs", Key="prod/other/combined-2024-03-11.log", Body=b"{}\n")
        store = open_log_store("s3://logs/prod/backend", s3_client=client)
        assert isinstance(store, S3LogStore)
        start, end = at("2024-03-10T23:30"), at("2024-03-11T00:30")
        read = read_logs(store, LogFilter(start=start, end=end))
        assert len(read.frame) == len(W.events(truth, start, end))
        cid = truth["known"]["midnight"]
        assert len(read_logs(store, LogFilter(correlation_id=cid)).frame) == 4


def test_naive_and_offset_timestamps_become_utc(tmp_path: Path) -> None:
    lines = [
        '{"level":"INFO","message":"a","timestamp":"2024-03-10T10:00:00+02:00","duration":12}',
        '{"level":"Warn","message":"b","timestamp":"2024-03-10 08:00:01","statusCode":"503"}',
        '{"level":"error","message":"c","@timestamp":"2024-03-10T08:00:02.5Z","responseTime":"1.5s"}',
    ]
    (tmp_path / "combined-2024-03-10.log").write_text("\n".join(lines) + "\n")
    frame = read_logs(LocalLogStore(tmp_path)).frame
    assert list(frame["ts"]) == [
        pd.Timestamp("2024-03-10T08:00:00Z"),
        pd.Timestamp("2024-03-10T08:00:01Z"),
        pd.Timestamp("2024-03-10T08:00:02.5Z"),
    ]
    assert list(frame["level"]) == ["info", "warn", "error"]
    assert list(frame["statusCode"].astype("object").fillna(0)) == [0, 503, 0]
    assert list(frame["duration_ms"].fillna(-1)) == [12.0, -1, 1500.0]
    assert str(frame["ts"].dt.tz) == "UTC"


def test_inputs_are_not_changed(log_copy: Path) -> None:
    before = {p.name: p.read_bytes() for p in log_copy.iterdir()}
    read_logs(LocalLogStore(log_copy))
    assert {p.name: p.read_bytes() for p in log_copy.iterdir()} == before


# The peak is VmHWM, this process's own since it started: ru_maxrss also counts the parent
# it was forked from (Linux keeps the larger across exec), a pytest process that grows to
# 1 GB over the whole suite.
MEMORY_PROBE = """
import json, sys
from datetime import datetime, UTC
from sreworkbook.incidents import error_groups, summarise
from sreworkbook.sources.logs import LocalLogStore
store = LocalLogStore(sys.argv[1])
day = datetime(2024, 3, 12, tzinfo=UTC), datetime(2024, 3, 13, tzinfo=UTC)
groups = error_groups(store, *day)
summary = summarise(store, *day)
print(json.dumps({
    "lines": summary.stats.lines_scanned, "errors": summary.errors, "grouped": groups.errors,
    "rss_mb": next(
        int(line.split()[1]) / 1024
        for line in open("/proc/self/status")
        if line.startswith("VmHWM:")
    ),
}))
"""


def test_scanning_1_gb_keeps_memory_under_1_gb(winston: tuple[Path, Truth], tmp_path: Path) -> None:
    folder, truth = winston
    day = [e for e in truth["events"] if e["ts"].startswith("2024-03-12")]
    text = (folder / "combined-2024-03-12.log").read_bytes()
    lines = [ln for ln in text.split(b"\n") if ln.startswith(b'{"') and ln.endswith(b"}")]
    lines = [ln for ln in lines if b'"timestamp"' in ln]
    assert len(lines) == len(day)
    block = b"\n".join(lines) + b"\n"
    copies = -(-(1 << 30) // len(block))
    big = tmp_path / "combined-2024-03-12.log"
    with big.open("wb") as out:
        for _ in range(copies):
            out.write(block)
    assert big.stat().st_size >= 1 << 30
    try:
        done = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
    finally:
        big.unlink()  # pytest keeps the last runs' temp folders
    probe = json.loads(done.stdout)
    # Errors that say why; a 5xx completion line is a failed request, not an error group.
    errors = sum(1 for e in day if e["level"] == "error" and e["kind"] != "completed")
    assert probe["lines"] == copies * len(day)
    assert probe["errors"] == probe["grouped"] == copies * errors
    assert probe["rss_mb"] < 1024, probe
