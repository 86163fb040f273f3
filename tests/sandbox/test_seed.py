"""How the demo documents are spread over the collections."""

from __future__ import annotations

import pytest

from sreworkbook.sandbox.seed import COLLECTIONS, plan


@pytest.mark.parametrize("total", [0, 5, 7, 1_000, 100_000, 123_457])
def test_plan_adds_up_to_the_total(total: int) -> None:
    counts = plan(total)
    assert list(counts) == list(COLLECTIONS)
    assert sum(counts.values()) == total
    if total >= len(COLLECTIONS):
        assert min(counts.values()) >= 1


def test_plan_for_the_default_size() -> None:
    assert plan(100_000) == {
        "users": 5_000,
        "customers": 15_000,
        "promotions": 2_000,
        "trades": 48_000,
        "audit_logs": 30_000,
    }
