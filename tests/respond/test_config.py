"""The ``responder:`` section is validated like the rest: errors name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sreworkbook.config import load_environment
from sreworkbook.exceptions import ParameterError

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, responder: dict[str, Any]) -> Any:
    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "responder": responder}))
    return load_environment(str(path), root=ROOT)


def test_a_full_section_loads(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        {
            "token": "${RESPONDER_TOKEN}",
            "report_base_url": "https://reports.example.com/outputs/",
            "runbooks": {
                "HighErrorRate": {"notebook": "high_error_rate"},
                "SlowAPIResponse": {
                    "notebook": "runbooks/slow_api_response.ipynb",
                    "parameters": {"labels": "labels", "start": "window.start", "end": "endsAt"},
                },
            },
            "triage": {"notebook": "incident_explorer", "parameters": {"start": "startsAt"}},
            "replies": [
                {
                    "match": {"severity": "critical"},
                    "notifications": {"pagerduty": {"routing_key": "${PD}"}},
                }
            ],
            "concurrency": 3,
            "dedup_window_s": 900,
            "queue_bound": 50,
        },
    )
    config = env.responder
    assert config.listen == "127.0.0.1:9097"  # loopback unless told otherwise
    assert config.report_base_url == "https://reports.example.com/outputs"
    assert config.runbooks["HighErrorRate"].parameters == {
        "labels": "alert", "start": "window.start", "end": "window.end"
    }  # fmt: skip
    assert "RESPONDER_TOKEN" in env.secret_references()
    assert env.masked()["responder"]["token"] == "${RESPONDER_TOKEN}"


@pytest.mark.parametrize(
    ("responder", "key", "message"),
    [
        ({"token": "plain-token"}, "responder.token", "must be a ${ENV_VAR} reference"),
        ({}, "responder.token", "required key is missing"),
        ({"token": "${T}", "listen": "nowhere"}, "responder.listen", "must be HOST:PORT"),
        ({"token": "${T}", "concurrency": 0}, "responder.concurrency", "greater than or equal"),
        ({"token": "${T}", "queue_bound": 0}, "responder.queue_bound", "greater than or equal"),
        (
            {"token": "${T}", "runbooks": {"X": {"notebook": "n", "parameters": {"a": "eval"}}}},
            "responder.runbooks.X.parameters",
            "unknown source 'eval'",
        ),
        ({"token": "${T}", "surprise": 1}, "responder.surprise", "unknown key"),
    ],
)
def test_bad_sections_name_the_key(
    tmp_path: Path, responder: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        load(tmp_path, responder)
    assert caught.value.key == key
    assert message in str(caught.value)
