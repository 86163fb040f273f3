"""The explorer's tables, charts and search panel, on the sandbox's generated logs.

The panel's test lives here with the explorer it serves (``widgets.log_explorer``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sreworkbook import widgets
from sreworkbook.config import Environment, Thresholds
from sreworkbook.incidents import Exploration, explore, lineup_of, view
from sreworkbook.known_incidents import load_incidents

NOW = datetime(2026, 11, 28, 20, 41, 39, tzinfo=UTC)


@pytest.fixture(scope="module")
def found(sandbox_logs: tuple[Path, dict[str, Any]]) -> Exploration:
    folder, _ = sandbox_logs
    env = Environment.model_validate({"name": "t", "logs": {"dir": str(folder)}})
    known = load_incidents(folder.parent / "truth.json", strict=False)
    return explore(env, root=Path("/"), now=NOW, incident="trades-api-error-spike", known=known)


def test_error_groups_fold_their_stacks(found: Exploration) -> None:
    table = view.error_groups_table(found)
    assert found.summary is not None
    assert table.count("<tr><td>") == len(found.summary.groups)
    assert "<details><summary>stack</summary><pre>Error: MongoWaitQueueTimeoutError" in table
    assert "\n    at ConnectionPool.checkOut" in table


def test_trace_table_has_every_line(found: Exploration, sandbox_logs: Any) -> None:
    first = next(i for i in sandbox_logs[1]["incidents"] if i["kind"] == "error_rate")
    first = first["first_failed_request"]
    table = view.trace_table(found.trace)
    body = re.search(
        rf'data-correlation-id="{first["correlation_id"]}".*?<tbody>(.*)</tbody>', table
    )
    assert body is not None and body.group(1).count("<tr>") == len(first["messages"])
    assert "status 500" in table
    assert "No failing request" in view.trace_table(None)


def test_tables_and_charts(found: Exploration) -> None:
    assert list(view.top_routes_table(found).index) == ["/api/trades"]
    users = view.top_users_table(found)
    assert users["failed requests"].is_monotonic_decreasing
    failing = view.requests_table(found, "failing")
    assert set(failing["status"]) == {500} and set(failing["request"]) == {"GET /api/trades"}
    slowest = view.requests_table(found)
    assert slowest["took (ms)"].is_monotonic_decreasing
    assert len(view.search_table(found)) == len(found.search)
    fig = view.lineup_figure(lineup_of(found, None), thresholds=Thresholds())
    names = {trace.name for trace in fig.data}
    assert names == {"logs: error rate", "logs: p95 ms"}
    assert "no metrics source configured" in str(fig.layout.annotations)
    assert {t.name for t in view.search_figure(found).data} == {"error"}


def test_search_panel_draws_only_when_touched(
    found: Exploration, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = widgets.log_explorer(found, now=lambda: NOW)
    window, row = panel.children[0], panel.children[1]
    level, text, cid = row.children
    capsys.readouterr()
    level.value = "error"
    drawn = capsys.readouterr().out
    assert "Lines matching level error" in drawn
    text.value = "checking out"
    assert "Lines matching level error; text 'checking out'" in capsys.readouterr().out
    assert found.trace is not None
    cid.value = found.trace.correlation_id
    assert f'data-correlation-id="{found.trace.correlation_id}"' in capsys.readouterr().out
    window.value = "1h"
    assert "No lines for correlation ID" in capsys.readouterr().out  # not in the last hour
