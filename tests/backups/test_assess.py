"""The notebook's one call, on a local folder and a real FerretDB; its tables and charts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups import assess as assess_module
from sreworkbook.backups import drill_report, runbook, view
from sreworkbook.backups.assess import BackupAssessment, assess_backups
from sreworkbook.backups.engines import PymongoEngine
from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.results import RunSummary, Status

from .conftest import MongoServer

pytestmark = pytest.mark.integration


def test_public_names() -> None:
    assert set(assess_module.__all__) == {"BackupAssessment", "assess_backups"}
    assert set(view.__all__) == {
        "comparison_table",
        "findings_table",
        "inventory_table",
        "phase_table",
        "rto_figure",
        "rto_history",
        "size_figure",
        "verification_table",
    }
    assert set(drill_report.__all__) == {
        "RTO_PHASES",
        "CollectionComparison",
        "DrillResult",
        "Phase",
        "PhaseFailed",
        "PhaseLog",
    }
    import sreworkbook.backups as package

    assert all(hasattr(package, name) for name in package.__all__)


@pytest.fixture
def setup(
    ferretdb: MongoServer, mongo_client: Any, tmp_path: Path
) -> Iterator[tuple[Environment, dt.datetime]]:
    source = f"assess_{uuid.uuid4().hex[:8]}"
    mongo_client[source].orders.insert_many([{"_id": i, "qty": i} for i in range(400)])
    folder = tmp_path / "backups"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC)
    engine = PymongoEngine(mongo_client)
    for back in (2, 1, 0):  # three nights; the last one a little bigger
        at = now - dt.timedelta(days=back, hours=1)
        engine.dump(source, folder / f"tradeai_backup_{at:%Y%m%d_%H%M%S}.archive.gz")
    env = Environment.model_validate(
        {
            "name": "assess",
            "mongodb": {"uri": ferretdb.uri, "database": source},
            "backups": {"local_dir": str(folder), "scratch_database": f"{source}_restore_test",
                        "log_file": str(tmp_path / "none.log")},
        }
    )  # fmt: skip
    yield env, now
    mongo_client.drop_database(source)


def test_a_healthy_local_setup_is_ok(setup: Any, tmp_path: Path) -> None:
    env, now = setup
    result = assess_backups(env, environ={}, root=tmp_path, now=now, engine="pymongo")
    assert isinstance(result, BackupAssessment)
    assert result.status is Status.OK, result.findings()
    assert result.headline().startswith(
        "The latest backup is 1 hour old, verified and restored in "
    )
    assert result.headline().endswith(" by pymongo.")
    metrics = result.metrics()
    assert metrics["backups_verified"] == 3 and metrics["backups_corrupt"] == 0
    assert metrics["restored_docs"] == 400 and metrics["rpo_h"] == 24
    assert result.drill is not None and result.drill.backup is not None
    assert result.drill.backup.tier.value == "local"
    # the tables and charts the notebook shows
    table = view.inventory_table(result)
    assert list(table["verified"]) == ["ok", "ok", "ok"] and table["note"][0] == "drilled"
    assert len(view.verification_table(result)) == 3
    assert view.verification_table(result, problems_only=True).empty
    assert list(view.comparison_table(result.drill)["match"]) == ["yes"]
    assert list(view.phase_table(result.drill)["phase"])[-1] == "cleanup"
    assert list(view.findings_table(result.findings())["title"]) == [
        f"restore engine: pymongo ({result.drill.tool_version})"
    ]  # the only finding: which engine and version restored, for the run's record
    assert result.drill.tool_version.startswith("pymongo 4.")
    assert len(view.size_figure(result).data) == 1
    past = [RunSummary(Status.OK, "x", metrics={"rto_s": 3.0}, finished_at="2026-11-20T03:00:00Z")]
    history = view.rto_history(past, result.drill, now=now)
    assert list(history["status"]) == ["OK", "this run"]
    assert list(history["engine"]) == ["", result.drill.tool_version]
    assert len(view.rto_figure(history).data) == 1
    assert view.rto_figure(view.rto_history([])).layout.annotations


def test_a_stale_backup_breaks_the_rpo(setup: Any, tmp_path: Path) -> None:
    env, now = setup
    later = now + dt.timedelta(days=2)
    result = assess_backups(env, environ={}, root=tmp_path, now=later, drill=False)
    assert result.status is Status.CRIT and result.drill is None
    assert "49 hours old, older than the 24-hour RPO" in result.headline()
    step, _ = runbook.last_good_backup(env, environ={}, root=tmp_path, now=later)
    assert step.status is Status.CRIT and "49.0 h old" in step.detail
    fresh, inventory = runbook.last_good_backup(env, environ={}, root=tmp_path, now=now)
    assert fresh.status is Status.OK and len(inventory.objects) == 3
    assert "local: newest sound copy" in fresh.lines[0]


def test_bad_input_raises(setup: Any, tmp_path: Path) -> None:
    env, now = setup
    with pytest.raises(ParameterError, match="no backup named"):
        assess_backups(env, environ={}, root=tmp_path, now=now, backup="nope.tar.gz")
    with pytest.raises(ParameterError, match="did you mean one of"):
        assess_backups(env, environ={}, root=tmp_path, now=now, engine="tape")
    bare = Environment.model_validate({"name": "bare"})
    with pytest.raises(ParameterError, match="no backups section"):
        assess_backups(bare, environ={}, root=tmp_path, now=now)
