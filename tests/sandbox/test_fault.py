"""The fault switch's state: strict parsing, and the client's errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError, SandboxError
from sreworkbook.sandbox import FaultState, set_fault


def test_empty_object_switches_everything_off() -> None:
    assert FaultState.parse({}) == FaultState()
    assert not FaultState.parse({}).active


def test_full_state_round_trips() -> None:
    data = {"latency_ms": 250, "error_ratio": 0.2, "down": ["redis", "mongodb"], "memory_pct": 95}
    state = FaultState.parse(data)
    assert state == FaultState(250.0, 0.2, ("mongodb", "redis"), 95.0)
    assert state.active and state.is_down("redis") and not state.is_down("ai")
    assert FaultState.parse(state.to_dict()) == state


def test_aliases_and_duplicates() -> None:
    assert FaultState.parse({"down": ["aiService", "ai", "mongo"]}).down == ("ai", "mongodb")


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"latency": 5}, "latency", "unknown key"),
        ({"error_ratio": 1.5}, "error_ratio", "between 0 and 1"),
        ({"error_ratio": "0.1"}, "error_ratio", "must be a number"),
        ({"latency_ms": True}, "latency_ms", "must be a number"),
        ({"latency_ms": -1}, "latency_ms", "between"),
        ({"memory_pct": 101}, "memory_pct", "between 0 and 100"),
        ({"down": "mongodb"}, "down", "list of component names"),
        ({"down": ["postgres"]}, "down", "did you mean one of: mongodb, redis, ai"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ParameterError, match=words) as caught:
        FaultState.parse(data)
    assert caught.value.key == key


def test_not_an_object() -> None:
    with pytest.raises(ParameterError, match="JSON object"):
        FaultState.parse(["mongodb"])


def test_set_fault_without_a_running_api_raises_sandbox_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = Environment.model_validate(
        {"name": "t", "service": {"base_url": f"http://127.0.0.1:{port}"}}
    )
    with pytest.raises(SandboxError, match="cannot reach") as caught:
        set_fault(env, down=["redis"], timeout_s=1)
    assert caught.value.component == "api"


def test_set_fault_checks_values_before_calling() -> None:
    env = Environment.model_validate({"name": "t", "service": {"base_url": "http://127.0.0.1:9"}})
    with pytest.raises(ParameterError):
        set_fault(env, error_ratio=2)
