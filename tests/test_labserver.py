"""JupyterLab's contents manager: a notebook is served with what its kernel will report, so
Lab does not mark it modified when the kernel starts (the browser tier checks it in Lab)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from sreworkbook.labserver import WorkbookContentsManager, kernel_language_info

ROOT = Path(__file__).resolve().parent.parent


def _in_a_thread(work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``asyncio.run(work())`` in a thread of its own, the manager made there too (its notary's
    SQLite connection belongs to the thread that made it): earlier tests in this process
    (nbclient's nest_asyncio) can leave the main thread looking as if a loop were running."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(work())))
    thread.start()
    thread.join(60)
    assert result, "the contents manager raised (see the thread's exception above)"
    return result[0]


def test_language_info_is_the_kernels() -> None:
    assert kernel_language_info() == IPythonKernel.language_info


def test_notebooks_are_served_with_the_kernels_language_info(tmp_path: Path) -> None:
    shutil.copy(ROOT / "notebooks" / "health_inspection.ipynb", tmp_path / "n.ipynb")
    (tmp_path / "other.ipynb").write_text(
        json.dumps(
            {
                "cells": [],
                "metadata": {"language_info": {"name": "R"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )

    async def served() -> tuple[Any, Any, Any]:
        manager = WorkbookContentsManager(root_dir=str(tmp_path))
        return (
            await manager.get("n.ipynb"),
            await manager.get("n.ipynb", content=False),
            await manager.get("other.ipynb"),
        )

    model, bare, other = _in_a_thread(served)
    assert model["content"]["metadata"]["language_info"] == IPythonKernel.language_info
    assert bare["content"] is None
    assert other["content"]["metadata"]["language_info"] == {"name": "R"}
    # The file on disk is not changed: opening is not saving.
    on_disk = json.loads((tmp_path / "n.ipynb").read_text())
    assert on_disk["metadata"]["language_info"] == {"name": "python"}
