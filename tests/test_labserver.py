"""JupyterLab's contents manager: a notebook is served with what its kernel will report, so
Lab does not mark it modified when the kernel starts (the browser tier checks it in Lab)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from sreworkbook.labserver import WorkbookContentsManager, kernel_language_info

ROOT = Path(__file__).resolve().parent.parent


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: earlier tests in this process (nbclient's
    nest_asyncio) can leave the main thread looking as if a loop were running."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join(60)
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
    manager = WorkbookContentsManager(root_dir=str(tmp_path))
    model = _run(manager.get("n.ipynb"))
    assert model["content"]["metadata"]["language_info"] == IPythonKernel.language_info
    assert _run(manager.get("n.ipynb", content=False))["content"] is None
    other = _run(manager.get("other.ipynb"))
    assert other["content"]["metadata"]["language_info"] == {"name": "R"}
    # The file on disk is not changed: opening is not saving.
    on_disk = json.loads((tmp_path / "n.ipynb").read_text())
    assert on_disk["metadata"]["language_info"] == {"name": "python"}
