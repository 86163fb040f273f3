"""The receiver and the responder on loopback, with a recording runner and sender.

What the real runbook run and the real Alertmanager add is in ``test_alertmanager.py``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from sreworkbook.respond import MAX_BODY_BYTES

from .helpers import TOKEN, Fakes, body, encoded, make_responder, serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(url: str, data: Any, headers: dict[str, str] | None = None) -> requests.Response:
    payload = data if isinstance(data, bytes) else encoded(data)
    return requests.post(
        f"{url}/webhook", data=payload, headers=AUTH if headers is None else headers, timeout=10
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_wrong_or_missing_token_is_401_and_queues_nothing(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    fakes = Fakes()
    responder = make_responder(tmp_path / "j.jsonl", fakes)
    with serving(responder) as server:
        answer = post(server.url, body(), headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert responder.pending == 0
    assert fakes.runs == [] and fakes.sent == []
    assert "HighErrorRate" not in (tmp_path / "j.jsonl").read_text()


def test_bad_bodies_are_refused_with_the_reason(tmp_path: Path) -> None:
    fakes = Fakes()
    with serving(make_responder(tmp_path / "j.jsonl", fakes)) as server:
        big = post(server.url, b"{" + b" " * MAX_BODY_BYTES + b"}")
        assert big.status_code == 413
        for data, reason in [
            (b"{not json", "not JSON"),
            (body(version="2"), "unsupported version"),
            ({"version": "4", "status": "firing", "alerts": [{}]}, "groupKey: required"),
        ]:
            answer = post(server.url, data)
            assert answer.status_code == 400 and reason in answer.json()["error"], answer.text
        assert requests.get(server.url + "/nowhere", timeout=5).status_code == 404
    assert fakes.runs == []


def test_one_run_per_episode_whatever_is_repeated(tmp_path: Path) -> None:
    fakes = Fakes()
    responder = make_responder(tmp_path / "j.jsonl", fakes, lead_s=600)
    with serving(responder) as server:
        answers: list[int] = []

        def send() -> None:  # two replicas, retries and repeat_interval at once
            answers.append(post(server.url, body()).status_code)

        threads = [threading.Thread(target=send) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [200] * 10
        assert responder.wait_idle(10)
        assert len(fakes.runs) == 1 and len(fakes.sent) == 1
        notebook, parameters = fakes.runs[0]
        assert notebook == "high_error_rate"
        assert parameters["start"] == "2026-12-07T00:50:00.123Z"  # startsAt minus the lead
        alert = json.loads(parameters["labels"])
        assert alert["labels"]["alertname"] == "HighErrorRate"
        assert alert["startsAt"] == "2026-12-07T01:00:00.123Z"
        message = fakes.sent[0][1]
        assert (message.status.value, message.headline) == ("CRIT", "run 1")
        assert message.report_url == "http://out/r1.html" and not message.resolved

        resolved = body(status="resolved", ends="2026-12-07T01:42:00Z")
        for _ in range(3):
            assert post(server.url, resolved).status_code == 200
        assert responder.wait_idle(10)
    assert len(fakes.runs) == 2 and len(fakes.sent) == 2
    _, second = fakes.runs[1]
    assert (second["start"], second["end"]) == ("2026-12-07T00:50:00.123Z", "2026-12-07T01:42:00Z")
    closing = fakes.sent[1][1]
    assert closing.resolved and closing.report_url == "http://out/r2.html"
    assert closing.headline.startswith("Resolved after 42m. Over the whole incident: run 2")
    assert ("duration", "42m") in closing.fields


def test_flapping_starts_no_new_run(tmp_path: Path) -> None:
    fakes = Fakes()
    now = [1000.0]
    responder = make_responder(tmp_path / "j.jsonl", fakes, clock=lambda: now[0])
    with serving(responder) as server:
        for status in ("firing", "resolved", "firing", "resolved", "firing"):
            assert post(server.url, body(status=status)).status_code == 200
            assert responder.wait_idle(10)
            now[0] += 30  # well inside the 300 s dedup window
        assert len(fakes.runs) == 2  # the first run, and the second run at the first resolve
        now[0] += 1000
        assert post(server.url, body(status="resolved")).status_code == 200
        now[0] += 1000  # resolved for longer than the window: a new episode
        assert post(server.url, body(status="firing")).status_code == 200
        assert responder.wait_idle(10)
    assert len(fakes.runs) == 3


def test_full_queue_is_503_then_accepted_on_retry(tmp_path: Path) -> None:
    fakes = Fakes()
    fakes.gate.clear()  # the runbook runs hang until released
    responder = make_responder(tmp_path / "j.jsonl", fakes, queue_bound=2, concurrency=1)
    with serving(responder) as server:
        assert post(server.url, body("g1")).status_code == 200
        assert post(server.url, body("g2")).status_code == 200
        refused = post(server.url, body("g3"))
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert post(server.url, body("g1")).status_code == 200  # a repeat costs nothing
        fakes.gate.set()
        assert responder.wait_idle(10)
        assert post(server.url, body("g3")).status_code == 200  # Alertmanager's retry
        assert responder.wait_idle(10)
    assert len(fakes.runs) == 3


def test_journalled_work_is_done_once_after_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    crashed = Fakes()
    crashed.gate.clear()
    first = make_responder(journal, crashed, concurrency=1)
    with serving(first) as server:
        assert post(server.url, body("g1")).status_code == 200
        assert post(server.url, body("g2")).status_code == 200
    # the process "died": its runs never finished, its journal stays
    fakes = Fakes()
    second = make_responder(journal, fakes)
    with serving(second) as server:
        assert second.wait_idle(10)
        assert post(server.url, body("g1")).status_code == 200  # known: not run again
        assert second.wait_idle(10)
    assert sorted(json.loads(p["labels"])["labels"]["alertname"] for _, p in fakes.runs) == [
        "HighErrorRate", "HighErrorRate"
    ]  # fmt: skip
    assert len(fakes.sent) == 2
    third = Fakes()
    with serving(make_responder(journal, third)) as server:
        time.sleep(0.3)
    assert third.runs == [] and third.sent == []  # done work never runs twice
    crashed.gate.set()


def test_hostile_labels_reach_the_runbook_as_data(tmp_path: Path) -> None:
    fakes = Fakes()
    hostile = '"; import os; os.system("touch /tmp/pwned") #\n{{ .Values }}\n!!python/object:x'
    responder = make_responder(
        tmp_path / "j.jsonl",
        fakes,
        runbooks={
            "HighErrorRate": {
                "notebook": "high_error_rate",
                "parameters": {"labels": "labels", "window": "label.job"},
            }
        },
    )
    with serving(responder) as server:
        assert post(server.url, body(labels={"job": hostile})).status_code == 200
        assert responder.wait_idle(10)
    _, parameters = fakes.runs[0]
    assert parameters["window"] == hostile
    assert json.loads(parameters["labels"])["job"] == hostile
