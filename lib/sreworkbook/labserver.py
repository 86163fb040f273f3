"""JupyterLab's contents manager for the workbook: a notebook opens unmodified.

The notebooks are committed with ``language_info`` reduced to ``{"name": "python"}`` (the
interpreter's version would change with every machine). When its kernel starts, JupyterLab
writes the kernel's full ``language_info`` into the notebook and marks it modified before the
user touched it. Served through this manager, a notebook already carries what this
interpreter's kernel will report, so Lab finds nothing to change. ``make lab`` uses it::

    jupyter lab --ServerApp.contents_manager_class=sreworkbook.labserver.WorkbookContentsManager
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

__all__ = ["WorkbookContentsManager", "kernel_language_info"]


def kernel_language_info() -> dict[str, Any]:
    """What ipykernel on this interpreter reports as ``language_info`` (its kernel_info)."""
    return {
        "name": "python",
        "version": sys.version.split()[0],
        "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
        "pygments_lexer": f"ipython{sys.version_info[0]}",
        "nbconvert_exporter": "python",
        "file_extension": ".py",
    }


class WorkbookContentsManager(AsyncLargeFileManager):
    """Jupyter's file manager, serving Python notebooks with this kernel's ``language_info``."""

    async def get(
        self,
        path: Any,
        content: Any = True,
        type: Any = None,
        format: Any = None,
        require_hash: Any = False,
    ) -> Any:
        model: dict[str, Any] = await super().get(  # type: ignore[no-untyped-call]
            path, content=content, type=type, format=format, require_hash=require_hash
        )
        if content and model.get("type") == "notebook" and model.get("content") is not None:
            metadata = model["content"].metadata
            if metadata.get("language_info", {}).get("name", "python") == "python":
                metadata["language_info"] = kernel_language_info()
        return model
