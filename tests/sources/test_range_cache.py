"""Settled pieces of range queries on disk: the same frame as without them, fewer queries."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sreworkbook.sources.prometheus import PrometheusSource
from sreworkbook.sources.range_cache import SETTLE_S, RangeCache, aligned_pieces
from support.http import CannedServer, Request, Route, canned_server

NOW = 1_796_600_000.0  # 2026-12-07T…Z, what the cache's clock says
DAY = 86_400


def _matrix(request: Request) -> dict[str, Any]:
    """A deterministic Prometheus: two series, value = time mod 997 (and its double)."""
    start, end = float(request.param("start")), float(request.param("end"))
    step = float(request.param("step"))
    times = [start + i * step for i in range(round((end - start) / step) + 1)]
    result = [
        {"metric": {"route": route}, "values": [[t, str((t % 997) * k)] for t in times]}
        for route, k in (("/a", 1), ("/b", 2))
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _prometheus(started: bool = True) -> Any:
    routes = {"/api/v1/query_range": Route(body=_matrix)}
    if started:
        info = {"status": "success", "data": {"startTime": "2026-12-01T00:00:00Z"}}
        routes["/api/v1/status/runtimeinfo"] = Route(body=info)
    return canned_server(routes)


def _ranges(server: CannedServer) -> list[Request]:
    return [r for r in server.seen if r.path == "/api/v1/query_range"]


def test_pieces_cover_the_evaluations_and_are_cut_at_the_same_places_each_day() -> None:
    step = 15_000
    first, last = 1_000_007_000, 1_000_007_000 + 3 * DAY * 1000
    pieces = aligned_pieces(first, last, step, 11_000)
    assert pieces[0][0] <= first <= pieces[0][1] and pieces[-1][0] <= last <= pieces[-1][1]
    assert all(b - a == DAY * 1000 - step for a, b in pieces)  # a day of evaluations each
    assert all(b2 - a1 == step for (_, a1), (b2, _) in itertools.pairwise(pieces))
    assert all((a - first) % step == 0 for a, _ in pieces)  # on the query's own grid
    tomorrow = aligned_pieces(first + DAY * 1000, last + DAY * 1000, step, 11_000)
    assert tomorrow[:-1] == pieces[1:]  # the same pieces again, one more at the end
    # The server's cap wins over a day: 11,000 one-second evaluations a piece at most.
    assert {b - a for a, b in aligned_pieces(0, 50_000_000, 1000, 11_000)} == {10_999_000}


def test_a_second_query_asks_only_for_what_has_not_settled(tmp_path: Path) -> None:
    start, end = NOW - 5 * DAY + 0.25, NOW - 60
    with _prometheus() as server:
        plain = PrometheusSource(server.url).query_range("q", start, end, 60)
        asked = len(_ranges(server))
        for run in range(2):
            cache = RangeCache(tmp_path, clock=lambda: NOW)
            frame = PrometheusSource(server.url, cache=cache).query_range("q", start, end, 60)
            pd.testing.assert_frame_equal(frame, plain)  # the uncached answer, row for row
            assert (cache.stored, cache.hits) == ((5, 0) if run == 0 else (0, 5))
        pieces = _ranges(server)[asked:]
    assert len(plain) == 2 * 7199  # every minute of five days, less the last one
    # The first run fetched every piece whole; the second only the day still open.
    first_run, second_run = pieces[:6], pieces[6:]
    assert len(first_run) == 6 and len(second_run) == 1
    assert float(second_run[0].param("end")) == pytest.approx(end, abs=1e-3)
    assert float(second_run[0].param("end")) > NOW - SETTLE_S


def test_a_server_that_does_not_say_when_it_started_is_not_cached(tmp_path: Path) -> None:
    with _prometheus(started=False) as server:
        cache = RangeCache(tmp_path, clock=lambda: NOW)
        source = PrometheusSource(server.url, cache=cache)
        for _ in range(2):
            frame = source.query_range("q", NOW - 2 * DAY, NOW - 3600, 60)
            assert len(frame) == 2 * (2 * DAY - 3600) // 60 + 2
        assert (cache.stored, cache.hits) == (0, 0)
        # Asked once, not on every query; the cap of 11,000 points cuts each query in two.
        assert [r.path for r in server.seen].count("/api/v1/status/runtimeinfo") == 1
        assert len(_ranges(server)) == 2 * 1


def test_an_unwritable_cache_is_no_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with _prometheus() as server:
        cache = RangeCache(blocked / "cache", clock=lambda: NOW)
        frame = PrometheusSource(server.url, cache=cache).query_range("q", NOW - DAY, NOW, 60)
    assert len(frame) == 2 * (DAY // 60 + 1) and cache.stored == 0
