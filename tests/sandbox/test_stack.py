"""``up``/``down``/``status`` when components cannot start: one clear line each, no crash."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sreworkbook.config import Environment
from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox import down, status, up


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_unstartable_components_are_reported_in_one_line_and_the_rest_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no mongod, no ferretdb, no docker, no redis-server
    env = Environment.model_validate(
        {
            "name": "t",
            "mongodb": {"uri": "mongodb://127.0.0.1:27999/"},
            "redis": {"url": f"redis://127.0.0.1:{listener}/0"},
            "prometheus": {"url": "http://10.1.2.3:9090"},
            "sandbox": {"data_dir": "sbx"},
        }
    )
    lines: list[str] = []
    state = up(env, root=tmp_path, log=lines.append)
    by_name = {c.name: c for c in state.components}
    assert by_name["api"].status == by_name["ai"].status == "disabled"
    assert {c.name for c in state.failed()} == {"mongodb", "redis", "prometheus"}
    failures = sorted(line for line in lines if "FAILED" in line)
    assert failures == [
        "mongodb: FAILED — no mongod on PATH, no ferretdb in .tools/bin or on PATH, "
        "docker engine not running",
        "prometheus: FAILED — its URL host '10.1.2.3' is not loopback (127.0.0.1)",
        "redis: FAILED — no redis-server on PATH (Debian: apt-get install redis-server)",
    ]
    assert state.data_dir == tmp_path / "sbx" and (tmp_path / "sbx" / "state.json").is_file()
    assert {c.name: c.status for c in status(env, root=tmp_path).components}["mongodb"] == "failed"
    assert all(c.status in ("stopped", "disabled") for c in down(env, root=tmp_path).components)


def test_strict_raises_after_trying_everything(tmp_path: Path, listener: int) -> None:
    env = Environment.model_validate(
        {
            "name": "t",
            "redis": {"url": f"redis://127.0.0.1:{listener}/0"},
            "ai_service": {"url": f"http://127.0.0.1:{listener}/health"},
            "sandbox": {"data_dir": "sbx"},
        }
    )
    with pytest.raises(SandboxError, match="2 component") as caught:
        up(env, root=tmp_path, strict=True)
    message = str(caught.value)
    assert f"redis: port 127.0.0.1:{listener} is already in use" in message
    assert f"ai: port 127.0.0.1:{listener} is already in use" in message


def test_status_of_a_sandbox_never_started(tmp_path: Path) -> None:
    env = Environment.model_validate({"name": "t", "redis": {"url": "redis://127.0.0.1:1/0"}})
    state = status(env, root=tmp_path)
    assert {c.name: c.status for c in state.components} == {
        "redis": "stopped",
        "mongodb": "disabled",
        "ai": "disabled",
        "api": "disabled",
        "prometheus": "disabled",
        "s3": "disabled",
        "receivers": "disabled",
        "responder": "disabled",
        "alertmanager": "disabled",
    }
    assert state.failed() == ()
    with pytest.raises(KeyError, match="did you mean one of"):
        state.component("postgres")
