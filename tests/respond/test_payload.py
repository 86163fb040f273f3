"""The webhook body read strictly: what Alertmanager sends is accepted, the rest says why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.respond import parse_group

from .helpers import body, encoded


def test_reads_alertmanagers_body() -> None:
    group = parse_group(encoded(body(alerts=3)))
    assert group.group_key == '{}:{alertname="HighErrorRate"}'
    assert group.status == "firing" and group.alertname == "HighErrorRate"
    assert len(group.alerts) == 3
    assert group.starts_at == datetime(2026, 12, 7, 1, 0, 0, 123456, tzinfo=UTC)
    assert group.ends_at is None  # Alertmanager's zero time means "no end yet"
    assert group.alerts[2].labels["instance"] == "10.0.0.2:3000"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (encoded(body(version="3")), "unsupported version '3'"),
        (encoded({k: v for k, v in body().items() if k != "groupKey"}), "groupKey: required"),
        (encoded({**body(), "alerts": []}), "alerts: must be a non-empty list"),
        (encoded({**body(), "status": "weird"}), "status: must be firing or resolved"),
        (encoded(body(starts="yesterday")), "alerts[0].startsAt: not an RFC 3339 time"),
        (encoded(body(labels={"bad-name": "x"})), "is not a label name"),
        (encoded(body(labels={"job": 3})), "alerts[0].labels.job: must be a string"),
        (encoded(body(labels={"job": "x" * 20_000})), "longer than 16384 characters"),
        (json.dumps(body(labels={"job": "\ud800"})).encode(), "lone surrogate"),
    ],
)
def test_bad_bodies_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_group(data)
    assert reason in str(caught.value)


def test_hostile_values_are_kept_verbatim() -> None:
    hostile = 'x"; import os; os.system("id") #\n{{ .CommonLabels }}\n!!python/object:os.system'
    group = parse_group(encoded(body(labels={"job": hostile})))
    assert group.alerts[0].labels["job"] == hostile
