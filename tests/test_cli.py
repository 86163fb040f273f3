"""The command line: bad input exits 64 with a message naming what is wrong, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cli(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "health_inspection", "--env", "nowhere"],
            "nowhere.yaml: parameter file not found",
        ),
        (["run", "no_such_notebook"], "no_such_notebook: notebook not found"),
        (["run", "health_inspection", "-p", "colour", "red"], "colour: unknown parameter"),
        (["run", "health_inspection", "--frobnicate"], "unrecognized arguments"),
        (["daily", "--parallel", "0"], "--parallel: must be at least 1"),
    ],
)
def test_bad_input_exits_64(args: list[str], message: str, tmp_path: Path) -> None:
    done = _cli("--outputs", str(tmp_path / "out"), *args)
    assert done.returncode == 64, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_bad_environment_file_exits_64(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nservice:\n  base_url: http://x\n  helth_path: /h\n")
    done = _cli("--outputs", str(tmp_path / "out"), "run", "health_inspection", "--env", str(bad))
    assert done.returncode == 64
    assert f"{bad}: service.helth_path: unknown key" in done.stderr


def test_outside_a_workbook(tmp_path: Path) -> None:
    # An editable install in a checkout: the workbook it was installed from.
    done = _cli("--outputs", str(tmp_path / "out"), "index", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "index.html").is_file()
    # SREWORKBOOK_HOME naming a folder that is no workbook: said, exit 64, nothing written.
    home = tmp_path / "not-a-workbook"
    home.mkdir()
    done = _cli("--outputs", str(tmp_path / "out2"), "index", cwd=tmp_path,
                env={"SREWORKBOOK_HOME": str(home)})  # fmt: skip
    assert done.returncode == 64
    assert f"SREWORKBOOK_HOME={home} holds no parameters/ folder" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out2").exists()
