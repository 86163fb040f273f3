"""The finished runs of an outputs folder's ledger, as the tests read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["summaries"]


def summaries(ledger: Path) -> list[dict[str, Any]]:
    """The summary lines of ``ledger`` in order: start and refused lines (``event``) left out."""
    if not ledger.is_file():
        return []
    lines = [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
    return [line for line in lines if "event" not in line]
