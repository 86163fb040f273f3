"""Endpoints come from the environment file, loopback only; directories from the data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sreworkbook.config import Environment, load_environment
from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.layout import Layout, endpoint_of

ROOT = Path(__file__).resolve().parents[2]


def env_with(**sections: Any) -> Environment:
    return Environment.model_validate({"name": "t", **sections})


def test_the_sandbox_file_is_the_source_of_truth_for_ports() -> None:
    env = load_environment("sandbox", root=ROOT)
    found = {
        name: endpoint_of(env, name) for name in ("api", "ai", "mongodb", "redis", "prometheus")
    }
    assert {k: v.address for k, v in found.items() if v} == {
        "api": "127.0.0.1:18080",
        "ai": "127.0.0.1:18081",
        "mongodb": "127.0.0.1:27018",
        "redis": "127.0.0.1:16379",
        "prometheus": "127.0.0.1:19090",
    }


def test_missing_section_means_disabled_and_default_ports_apply() -> None:
    env = env_with(redis={"url": "redis://localhost"}, mongodb={"uri": "mongodb://127.0.0.1"})
    assert endpoint_of(env, "api") is None
    assert endpoint_of(env, "redis").address == "127.0.0.1:6379"  # type: ignore[union-attr]
    assert endpoint_of(env, "mongodb").address == "127.0.0.1:27017"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"redis": {"url": "redis://10.0.0.5:6379/0"}}, "not loopback"),
        ({"redis": {"url": "${REDIS_URL}"}}, "secret reference"),
        ({"mongodb": {"uri": "mongodb://127.0.0.1:1,127.0.0.1:2/"}}, "several hosts"),
    ],
)
def test_refuses_anything_but_one_literal_loopback_address(
    section: dict[str, Any], words: str
) -> None:
    env = env_with(**section)
    name = "redis" if "redis" in section else "mongodb"
    with pytest.raises(SandboxError, match=words):
        endpoint_of(env, name)


def test_unknown_component_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="did you mean one of: redis, mongodb, ai, api, prometheus"):
        endpoint_of(env_with(), "postgres")


def test_layout_under_root(tmp_path: Path) -> None:
    env = env_with(sandbox={"data_dir": "sbx"}, logs={"dir": "sbx/app-logs"})
    layout = Layout.of(env, tmp_path)
    assert layout.data_dir == tmp_path / "sbx"
    assert layout.app_log_dir == tmp_path / "sbx" / "app-logs"
    assert layout.state_file == tmp_path / "sbx" / "state.json"
    assert layout.out("redis") == tmp_path / "sbx" / "logs" / "redis.out"
    assert Layout.of(env_with(), tmp_path).data_dir == tmp_path / ".sandbox"
