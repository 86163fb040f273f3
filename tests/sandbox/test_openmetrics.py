"""The OpenMetrics writer: the layout promtool needs, and promtool accepting it."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sreworkbook.sandbox.history import History, HistorySpec, generate
from sreworkbook.sandbox.openmetrics import escape_label, write_openmetrics

NOW = datetime(2026, 11, 28, 16, 5, tzinfo=UTC)
SAMPLE = re.compile(
    r'^([a-z_]+)\{job="tradeai-backend",instance="127\.0\.0\.1:18080"(,[^}]*)?\} (\S+) (\d+)$'
)


@pytest.fixture(scope="module")
def small() -> History:
    # Two days reach yesterday's error spike; a 5-minute step keeps it small.
    spec = HistorySpec.ending_now(
        NOW, job="tradeai-backend", instance="127.0.0.1:18080", days=2, step=300
    )
    return generate(spec)


def test_layout_families_together_series_in_time_order_eof_last(small: History) -> None:
    out = io.StringIO()
    written = write_openmetrics(small, out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "# EOF"
    types = [ln.split()[2] for ln in lines if ln.startswith("# TYPE")]
    assert len(types) == len(set(types)), "each family is declared once"
    assert "db_connection_failures" in types and "db_connection_failures_total" not in types
    last_seen: dict[str, int] = {}
    family = ""
    samples = 0
    for line in lines[:-1]:
        if line.startswith("# TYPE"):
            family = line.split()[2]
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, _labels, value, stamp = match.groups()
        assert name.startswith(family)
        float(value)
        key = line.rsplit(" ", 2)[0]
        assert last_seen.get(key, -1) < int(stamp), f"out of order: {line}"
        last_seen[key] = int(stamp)
        samples += 1
    assert samples == written


def test_failed_scrape_has_no_app_samples_but_up_zero() -> None:
    spec = HistorySpec.ending_now(NOW, job="j", instance="h:1", days=7, step=600)
    history = generate(spec)
    leak = next(i for i in history.incidents if i.kind == "memory")
    restart = -(-leak.end_s // 600) * 600  # the first scrape at or after the restart
    text = io.StringIO()
    write_openmetrics(history, text, start=restart, end=restart + 1)
    body = [ln for ln in text.getvalue().splitlines() if not ln.startswith("#")]
    assert body == [f'up{{job="j",instance="h:1"}} 0.0 {restart}']


def test_time_window_selects_samples(small: History) -> None:
    whole, first, second = io.StringIO(), io.StringIO(), io.StringIO()
    middle = int(small.times[len(small.times) // 2])
    n = write_openmetrics(small, whole)
    assert (
        write_openmetrics(small, first, end=middle) + write_openmetrics(small, second, start=middle)
        == n
    )


def test_label_escaping() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_promtool_turns_it_into_a_block(small: History, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool not on PATH — required when CI=true")
        pytest.skip("promtool not on PATH")
    path = tmp_path / "history.om"
    with path.open("w") as fh:
        written = write_openmetrics(small, fh)
    out = tmp_path / "blocks"
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    metas = [json.loads(p.read_text()) for p in out.glob("*/meta.json")]
    assert sum(m["stats"]["numSamples"] for m in metas) == written
