"""Error groups against the truth of the real-winston logs; message normalisation."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.incidents import error_groups, normalise_message
from sreworkbook.sources.logs import LocalLogStore
from support.cli import winston_module

W = winston_module()


@pytest.mark.parametrize(
    ("message", "group"),
    [
        ("User 3f2b1c4d-aaaa-4bbb-8ccc-0123456789ab not found", "User <uuid> not found"),
        ("Invalid session token signature 0x3fa9bc", "Invalid session token signature <hex>"),
        ("Order 65f1a2b3c4d5e6f708192a3b rejected", "Order <hex> rejected"),
        ('status 503 for model "lstm-v3"', "status <n> for model <str>"),
        (
            "Cannot read properties of undefined (reading 'price')",
            "Cannot read properties of undefined (reading <str>)",
        ),
        ("connect ECONNREFUSED 10.0.3.7:6379", "connect ECONNREFUSED <ip>:<n>"),
        ("timed out after 1.5 s", "timed out after <n> s"),
        ("can't reach the DB, it's down", "can't reach the DB, it's down"),
        ("  spaced\n  out  ", "spaced out"),
        ("deadbeef is a word", "deadbeef is a word"),
        (None, ""),
    ],
)
def test_normalise_message(message: str | None, group: str) -> None:
    assert normalise_message(message) == group


def truth_groups(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["level"] == "error" and e["kind"] != "completed":  # completions are no cause
            groups[e["template"]].append(e)
    return groups


@pytest.mark.parametrize(
    "window",
    [
        (None, None),
        ("2024-03-11T14:00:00+00:00", "2024-03-11T14:20:00+00:00"),
        ("2024-03-09T00:00:00+00:00", "2024-03-10T00:00:00+00:00"),
    ],
)
def test_groups_match_the_generator_templates(
    winston: tuple[Path, dict[str, Any]], window: tuple[str | None, str | None]
) -> None:
    folder, truth = winston
    start, end = (datetime.fromisoformat(t) if t else None for t in window)
    expected = truth_groups(W.events(truth, start, end))
    template_of = {e["message"]: e["template"] for e in truth["events"] if e["level"] == "error"}
    report = error_groups(LocalLogStore(folder), start, end)
    assert len(report.groups) == len(expected)
    assert report.errors == sum(map(len, expected.values()))
    assert [g.count for g in report.groups] == sorted(
        (g.count for g in report.groups), reverse=True
    )
    for group in report.groups:
        events = expected[template_of[group.example]]
        assert group.count == len(events), group.group
        assert group.first_seen == min(W.ts(e["ts"]) for e in events)
        assert group.last_seen == max(W.ts(e["ts"]) for e in events)
        routes = Counter(e["route"] for e in events if e["route"])
        assert dict(group.routes) == dict(routes.most_common(10))
        assert group.example_stack and group.example_stack.startswith("Error: ")
        # The cause: the stack's first frame, as thrown.
        assert group.frame is not None and group.frame.startswith("at ")
        assert f"\n    {group.frame}\n" in group.example_stack


def test_incident_is_dominated_by_database_timeouts(winston: tuple[Path, dict[str, Any]]) -> None:
    folder = winston[0]
    start = datetime(2024, 3, 11, 14, tzinfo=UTC)
    report = error_groups(LocalLogStore(folder), start, datetime(2024, 3, 11, 14, 20, tzinfo=UTC))
    by_group = {g.group: g for g in report.groups}
    db = by_group["MongoServerSelectionError: Server selection timed out after <n> ms"]
    assert db.requests == db.count  # one timeout per failed request
    redis = by_group["Redis connection lost: connect ECONNREFUSED <ip>:<n>"]
    assert redis.requests == 0 and redis.routes == ()
    assert report.groups[0].to_dict().keys() == {
        "group",
        "count",
        "first_seen",
        "last_seen",
        "example",
        "frame",
    }
    assert report.stats.malformed_lines == 0
    assert "<table>" in report._repr_html_()
