"""The sandbox's week of Winston logs: files, format, incidents, the truth, the daily stamp."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.incidents import normalise_message, summarise, trace
from sreworkbook.sandbox.history import SPIKE_ERROR_RATIO
from sreworkbook.sandbox.incidents import anchor_for, incidents_for
from sreworkbook.sandbox.layout import Context, Layout
from sreworkbook.sandbox.log_history import (
    HISTORY_DAYS,
    TRUTH_FILE,
    LogHistorySpec,
    ensure_log_history,
    prepare_api_logs,
)
from sreworkbook.sandbox.model import ROUTES
from sreworkbook.sandbox.winston import log_line
from sreworkbook.sources.logs import LocalLogStore, read_logs

NOW = datetime(2026, 11, 28, 20, 41, 39, tzinfo=UTC)
DAY = timedelta(days=1)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], float]:
    """A full week written once for the module, its truth and the seconds it took."""
    out = tmp_path_factory.mktemp("log-history")
    began = time.monotonic()
    report = ensure_log_history(
        out / "logs", LogHistorySpec.ending(NOW), truth_file=out / TRUTH_FILE
    )
    took = time.monotonic() - began
    assert report.source == "generated" and report.files == 2 * (HISTORY_DAYS + 1)
    print(f"\n{report.summary()}")  # the timing, in the test log
    return out / "logs", json.loads((out / TRUTH_FILE).read_text()), took


def lines_of(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_daily_files_past_days_gzipped_today_plain(
    week: tuple[Path, dict[str, Any], float],
) -> None:
    folder, truth, _ = week
    days = [(NOW - d * DAY).strftime("%Y-%m-%d") for d in range(HISTORY_DAYS, 0, -1)]
    today = NOW.strftime("%Y-%m-%d")
    expected = {f"{k}-{d}.log.gz" for d in days for k in ("combined", "error")}
    expected |= {f"combined-{today}.log", f"error-{today}.log"}
    assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == expected
    assert set(truth["files"]) == expected
    for name in expected:
        assert len(lines_of(folder / name)) == truth["files"][name]["lines"]
    for day in [*days, today]:
        suffix = ".log.gz" if day != today else ".log"
        combined = lines_of(folder / f"combined-{day}{suffix}")
        errors = lines_of(folder / f"error-{day}{suffix}")
        assert errors == [line for line in combined if line.startswith('{"level":"error"')]
        stamps = [line[-26:-2] for line in combined]  # Winston puts the timestamp last
        assert stamps == sorted(stamps) and all(s.startswith(day) for s in stamps)
    assert stamps[-1] < NOW.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_volume_is_bounded(week: tuple[Path, dict[str, Any], float]) -> None:
    folder, truth, _ = week
    for name in truth["files"]:
        if name.startswith("combined") and name.endswith(".gz"):
            with gzip.open(folder / name, "rb") as handle:
                size = len(handle.read())
            assert 10 << 20 < size < 36 << 20, (name, size)


def test_lines_are_what_the_live_api_writes(week: tuple[Path, dict[str, Any], float]) -> None:
    folder, _, _ = week
    today = lines_of(folder / f"combined-{NOW:%Y-%m-%d}.log")
    messages = Counter(json.loads(line)["message"] for line in today[:3000])
    assert messages["Incoming request"] >= messages["Request completed"] > 900
    assert messages["Database query executed"] + messages["AI forecast generated"] > 900
    for line in today[:3000] + lines_of(folder / f"error-{(NOW - DAY):%Y-%m-%d}.log.gz"):
        record = json.loads(line)
        level, message, when = record.pop("level"), record.pop("message"), record.pop("timestamp")
        service = record.pop("service")
        assert service == "tradeai-backend"
        assert log_line(level, message, ts(when), **record) == line  # same text, same key order
    paths = {r.path for r in ROUTES}
    assert all(json.loads(line).get("url", "/api/trades") in paths for line in today[:3000])


def test_incidents_are_the_prometheus_history_ones(
    week: tuple[Path, dict[str, Any], float],
) -> None:
    _, truth, _ = week
    planted = incidents_for(anchor_for(NOW), start=int((NOW - 8 * DAY).timestamp()))
    in_week = [i for i in planted if i.start_s >= anchor_for(NOW) - HISTORY_DAYS * 86_400]
    assert [(i["name"], i["start"], i["end"]) for i in truth["incidents"]] == [
        (i.name, i.to_dict()["start"], i.to_dict()["end"]) for i in in_week
    ]
    assert {i["name"] for i in truth["incidents"]} == {
        "trades-api-error-spike",
        "latency-regression",
        "memory-leak",
    }  # the database slowdown, ten days back, is older than a week of logs


def test_error_spike_signature(week: tuple[Path, dict[str, Any], float]) -> None:
    folder, truth, _ = week
    spike = next(i for i in truth["incidents"] if i["kind"] == "error_rate")
    assert spike["dominant"]["message"].startswith("MongoWaitQueueTimeoutError: Timed out")
    assert spike["dominant"]["count"] == truth["error_lines_by_kind"]["pool"]
    assert spike["failed_requests"] / spike["requests"] > 0.05
    frame = read_logs(LocalLogStore(folder), _window(spike)).frame
    done = frame[frame["statusCode"].notna()]
    trades = done[done["url"] == "/api/trades"]
    assert (trades["statusCode"] == 500).mean() == pytest.approx(SPIKE_ERROR_RATIO, abs=0.01)
    others = done[done["url"] != "/api/trades"]
    assert (others["statusCode"] == 500).sum() <= 2
    jobs = frame[frame["job"].notna()] if "job" in frame else frame.iloc[:0]
    assert len(jobs) == 50 and set(jobs["level"]) == {"error"}


def test_latency_regression_signature(week: tuple[Path, dict[str, Any], float]) -> None:
    folder, truth, _ = week
    slow = next(i for i in truth["incidents"] if i["kind"] == "latency")
    store = LocalLogStore(folder)
    during = read_logs(store, _window(slow)).frame["duration_ms"].dropna()
    before = read_logs(store, _window(slow, shift=-2 * 3600)).frame["duration_ms"].dropna()
    assert during.quantile(0.95) > 2000 > 1000 > before.quantile(0.95)
    assert slow["error_lines"] <= 4


def _window(incident: dict[str, Any], shift: int = 0) -> Any:
    from sreworkbook.sources.logs import LogFilter

    return LogFilter(
        start=ts(incident["start"]) + timedelta(seconds=shift),
        end=ts(incident["end"]) + timedelta(seconds=shift),
    )


def test_truth_is_what_the_reader_finds(week: tuple[Path, dict[str, Any], float]) -> None:
    folder, truth, _ = week
    store = LocalLogStore(folder)
    for incident in truth["incidents"]:
        summary = summarise(store, ts(incident["start"]), ts(incident["end"]))
        assert summary.requests == incident["requests"], incident["name"]
        assert summary.failed_requests == incident["failed_requests"]
        assert summary.errors == incident["cause_lines"]
        assert [g.count for g in summary.groups] == [g["count"] for g in incident["groups"]]
        groups = {normalise_message(g["example"]) for g in incident["groups"]}
        assert {g.group for g in summary.groups} == groups
        first = incident["first_failed_request"]
        assert summary.first_failed_id == first["correlation_id"]
        traced = trace(store, first["correlation_id"])
        assert list(traced.frame["message"]) == first["messages"]


def test_stamp_skips_until_the_day_or_parameters_change(tmp_path: Path) -> None:
    logs, truth = tmp_path / "logs", tmp_path / TRUTH_FILE
    logs.mkdir()
    (logs / "api.out").write_text("kept")
    (logs / "combined-2020-01-01.log").write_text("stale\n")
    spec = LogHistorySpec.ending(NOW, days=1)
    assert ensure_log_history(logs, spec, truth_file=truth).source == "generated"
    assert not (logs / "combined-2020-01-01.log").exists() and (logs / "api.out").exists()
    past = (logs / f"combined-{NOW - DAY:%Y-%m-%d}.log.gz").read_bytes()
    later = LogHistorySpec.ending(NOW + timedelta(hours=2), days=1)
    assert ensure_log_history(logs, later, truth_file=truth).source == "already written"
    (logs / f"combined-{NOW - DAY:%Y-%m-%d}.log.gz").unlink()
    assert ensure_log_history(logs, later, truth_file=truth).source == "generated"
    assert (logs / f"combined-{NOW - DAY:%Y-%m-%d}.log.gz").read_bytes() == past  # same bytes
    today = lines_of(logs / f"combined-{NOW:%Y-%m-%d}.log")
    assert ts(json.loads(today[-1])["timestamp"]) > NOW + timedelta(hours=1)  # two more hours
    tomorrow = LogHistorySpec.ending(NOW + DAY, days=1)
    assert ensure_log_history(logs, tomorrow, truth_file=truth).source == "generated"
    assert not list(logs.glob(f"*{NOW - DAY:%Y-%m-%d}*"))  # older than the history: removed


def _context(root: Path, port: int, log: list[str]) -> Context:
    from sreworkbook.config import Environment

    env = Environment.model_validate(
        {"name": "t", "service": {"base_url": f"http://127.0.0.1:{port}"},
         "logs": {"dir": str(root / "logs")}, "sandbox": {"data_dir": str(root / "data")}}
    )  # fmt: skip
    return Context(env, Layout.of(env, root), NOW, log.append)


def test_sandbox_hook_writes_reports_and_leaves_a_running_api_alone(tmp_path: Path) -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        said: list[str] = []
        prepare_api_logs(_context(tmp_path, port, said))  # something answers there: untouched
        assert said == [] and not (tmp_path / "logs").exists()
    (tmp_path / "logs").write_text("not a folder")
    prepare_api_logs(_context(tmp_path, port, said))
    assert len(said) == 1 and said[0].startswith("api: log history not written")
