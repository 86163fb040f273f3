"""A second tuning on the same Prometheus reads settled history from the cache and gets the
same signals, scores and recommendations as a tuning without it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sreworkbook.alerts.tuning import CACHE_FOLDER, TuningReport, tune_environment

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration]
AN_HOUR_AGO = (time.time() // 3600 - 1) * 3600


def _tune(sandbox: Any, root: Path, *, cache: bool) -> TuningReport:
    return tune_environment(
        sandbox.env, root=root, environ=os.environ, window="3d", cache=cache,
        rules_file=str(ROOT / "parameters" / "alerts.yaml"),
        now=lambda: AN_HOUR_AGO,  # one grid for the three runs
    )  # fmt: skip


def test_a_second_tuning_reads_settled_history_from_the_cache(sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("prometheus")
    plain = _tune(sandbox, tmp_path, cache=False)
    assert not (tmp_path / CACHE_FOLDER).exists()
    cold = _tune(sandbox, tmp_path, cache=True)
    stored = {p.name: p.stat() for p in (tmp_path / CACHE_FOLDER).glob("??/*")}
    assert stored
    time.sleep(0.05)
    warm = _tune(sandbox, tmp_path, cache=True)
    read = {p.name: p.stat() for p in (tmp_path / CACHE_FOLDER).glob("??/*")}
    assert read.keys() == stored.keys()
    for name, before in stored.items():  # every piece read (touched), none written again
        assert read[name].st_ino == before.st_ino and read[name].st_mtime > before.st_mtime
    for report in (cold, warm):
        assert [t.rule.name for t in report.tunings] == [t.rule.name for t in plain.tunings]
        for got, want in zip(report.tunings, plain.tunings, strict=True):
            assert (got.current, got.tuned_score, got.recommendation) == (
                want.current, want.tuned_score, want.recommendation
            ), got.rule.name  # fmt: skip
            for a, b in zip(got.result.signal.series, want.result.signal.series, strict=True):
                assert a.labels == b.labels
                np.testing.assert_array_equal(a.present, b.present)
                np.testing.assert_array_equal(a.values, b.values)
