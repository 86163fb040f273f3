"""``make mongo-tools``: where the real tools come from, and what CI does without them.

Each case runs the real target against a throw-away ``TOOLS`` folder with a PATH that holds only
the shell utilities the recipe needs (no Go, no mongodump), so nothing is built here: the real
offline build is what ``make setup`` does before every test session, and the tests that use
the tools prove it worked.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UTILITIES = (
    "bash", "sh", "make", "sha256sum", "cut", "grep", "mkdir", "flock", "mktemp", "rm", "tar",
    "basename", "mv", "head", "cat", "env",
)  # fmt: skip


def bare_path(folder: Path) -> str:
    """A PATH with the recipe's utilities only."""
    if folder.is_dir():
        return str(folder)
    folder.mkdir()
    for name in UTILITIES:
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed")
        (folder / name).symlink_to(found)
    return str(folder)


def make(
    tmp_path: Path, tools: Path, *, ci: bool, tarball: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": bare_path(tmp_path / "bin"), "HOME": str(tmp_path)}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "mongo-tools", f"TOOLS={tools}",
         f"MONGO_TOOLS_TARBALL={tarball}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def fake_tool(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\necho '{name} version: 100.18.0-test'\n")
    script.chmod(0o755)


def test_without_tools_or_go_ci_fails_and_a_user_is_told(tmp_path: Path) -> None:
    tools = tmp_path / "tools" / "bin"
    for case in ("ci", "user"):
        (tmp_path / case).mkdir()
    in_ci = make(tmp_path / "ci", tools, ci=True)
    assert in_ci.returncode != 0
    assert "no Go to build them — required when CI=true" in in_ci.stderr
    user = make(tmp_path / "user", tools, ci=False)
    assert user.returncode == 0, user.stderr
    assert "(the pure-pymongo engine is used)" in user.stdout
    assert not (tools / "mongodump").exists()


def test_tools_already_in_tools_bin_are_kept(tmp_path: Path) -> None:
    tools = tmp_path / "tools" / "bin"
    for name in ("mongodump", "mongorestore"):
        fake_tool(tools, name)
    done = make(tmp_path, tools, ci=True)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_a_stamp_from_another_tarball_means_a_rebuild(tmp_path: Path) -> None:
    """Binaries stamped with another source are built again (here: no Go, so CI fails)."""
    tools = tmp_path / "tools" / "bin"
    for name in ("mongodump", "mongorestore"):
        fake_tool(tools, name)
    tarball = tmp_path / "mongo-tools-0123abcd.tar.gz"
    tarball.write_bytes(b"not really a tarball")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    stamp = tools.parent / "mongo-tools.stamp"
    stamp.write_text(f"100.18.0-0123abcd {digest}\n")
    same = make(tmp_path, tools, ci=True, tarball=str(tarball))
    assert same.returncode == 0 and same.stdout == "", same.stdout + same.stderr
    stamp.write_text("100.17.0-ffffffff 0000\n")
    os.utime(stamp)
    changed = make(tmp_path, tools, ci=True, tarball=str(tarball))
    assert changed.returncode != 0 and "required when CI=true" in changed.stderr


@pytest.mark.skipif(not (ROOT / ".tools" / "mongo-tools.stamp").is_file(), reason="not built here")
def test_the_shared_build_is_stamped_with_its_version() -> None:
    stamp = (ROOT / ".tools" / "mongo-tools.stamp").read_text().split()
    version = subprocess.run(
        [str(ROOT / ".tools" / "bin" / "mongodump"), "--version"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert f"mongodump version: {stamp[0]}" in version
