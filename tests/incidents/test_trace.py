"""Tracing requests by correlation ID, and requests around a time, against the winston truth."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.incidents import requests_around, trace
from sreworkbook.sources.logs import LocalLogStore
from support.cli import winston_module

W = winston_module()


def cids(truth: dict[str, Any]) -> list[str]:
    every = sorted({e["cid"] for e in truth["events"] if e["cid"]})
    return [*truth["known"].values(), *random.Random(3).sample(every, 15)]


def test_trace_finds_exactly_the_request_lines(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    store = LocalLogStore(folder)
    for cid in cids(truth):
        expected = [e for e in truth["events"] if e["cid"] == cid]
        found = trace(store, cid)
        assert found.lines == len(expected), cid
        assert [t.to_pydatetime() for t in found.frame["ts"]] == [W.ts(e["ts"]) for e in expected]
        assert list(found.frame["message"]) == [e["message"] for e in expected]
        assert found.frame["step_ms"].sum() == pytest.approx(found.duration_ms)


def test_trace_across_midnight_files_and_services(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    found = trace(LocalLogStore(folder), truth["known"]["midnight"])
    assert found.lines == 4
    assert found.services == ("tradeai-backend", "ai-service")
    assert (
        list(found.frame["file"])
        == ["combined-2024-03-10.log.gz"] * 2 + ["combined-2024-03-11.log.gz"] * 2
    )
    assert found.duration_ms == pytest.approx(2300.0)
    records = found.records()
    assert records[0]["timestamp"] == records[0]["ts"] == "2024-03-10T23:59:59.400Z"
    assert records[-1]["duration"] == "2.3s"  # as written
    assert list(found.frame["duration_ms"].dropna()) == [1575.0, 2300.0]


def test_failing_trace(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    found = trace(LocalLogStore(folder), truth["known"]["failing"])
    assert found.lines == 3 and found.failed and found.status == 500
    assert found.frame["stack"].notna().sum() == 1
    assert "500" in found._repr_html_()


def test_trace_within_a_window_and_unknown_ids(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    store = LocalLogStore(folder)
    start = datetime(2024, 3, 11, tzinfo=UTC)
    part = trace(store, truth["known"]["midnight"], start=start, end=start + timedelta(hours=1))
    assert part.lines == 2 and part.stats.files == ("combined-2024-03-11.log.gz",)
    missing = trace(store, "no-such-request")
    assert missing.lines == 0 and missing.status is None and not missing.failed
    with pytest.raises(ParameterError):
        trace(store, "  ")


def test_requests_around_an_incident_time(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    at = W.ts(truth["incident"]["start"]) + timedelta(minutes=10)
    start, end = at - timedelta(minutes=5), at + timedelta(minutes=5)
    done = [
        e
        for e in W.events(truth, start, end)
        if e["kind"] == "completed" and e["route"] == "/api/trades"
    ]
    around = requests_around(LocalLogStore(folder), at, "/api/trades", limit=500)
    assert around.requests == len(done)
    assert len(around.failing) == sum(1 for e in done if e["status"] >= 500)
    assert (around.failing["statusCode"] >= 500).all()
    assert list(around.slowest["duration_ms"]) == sorted(
        (float(e["duration_ms"]) for e in done), reverse=True
    )
    top = requests_around(LocalLogStore(folder), at, "/api/trades", limit=3)
    assert len(top.slowest) == 3
    assert top.slowest["duration_ms"].iloc[0] == max(e["duration_ms"] for e in done)
    with pytest.raises(ParameterError):
        requests_around(LocalLogStore(folder), at, limit=0)
