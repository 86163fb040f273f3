"""A throwaway workbook holding the probe notebook, for the run pipeline's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.ci import ROOT

__all__ = ["probe_workbook"]


def probe_workbook(folder: Path, environment: str = "name: test\n") -> Path:
    """``folder`` as a workbook: ``notebooks/probe.ipynb`` and ``parameters/test.yaml``."""
    (folder / "parameters").mkdir()
    (folder / "notebooks").mkdir()
    (folder / "parameters" / "test.yaml").write_text(environment)
    shutil.copy(ROOT / "tests" / "fixtures" / "notebooks" / "probe.ipynb", folder / "notebooks")
    return folder
