"""The fault matrix: notebooks × the dependencies they use × faults, against the real sandbox.

Every row is a real ``sreworkbook run`` on an environment that reaches one dependency through
Toxiproxy (refused, reset, hang, slow) or reaches a small HTTP server answering what a TCP
proxy cannot make (500, 429 with ``Retry-After: 3600``, 200 with a truncated or garbage body,
an HTML error page). Each row asserts, from the table below: the run ends within its budget,
its status is the table's (the README's rule: a verdict only on what was measured, UNKNOWN
for what could not be), the report holds no traceback, the canary secret is in no output, the
ledger has the run, and a failing HTTP endpoint got no more requests than the give-up bound.

The runs go in parallel before the rows are checked (short timeouts in the environment, a
60 s deadline), so the tier takes a few minutes. More rows are more lines of ``TABLE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.ci import ROOT
from support.http import CannedServer, Route, start_http
from support.toxiproxy import FAULTS, Toxiproxy, toxiproxy_server

#: The module's runs share one fixture (the sandbox, then every run in parallel): its first
#: test carries all of it.
pytestmark = [
    pytest.mark.faults,
    pytest.mark.integration,
    pytest.mark.notebook,
    pytest.mark.timeout(1800),
]

CANARY = "canary-7f3a9c-do-not-leak"
DEADLINE_S = 60
#: Requests one run may send a failing HTTP endpoint: the breaker's 4 failures in a row and
#: the calls in flight when it opened (6 dashboard workers), per endpoint called; the health
#: inspection's one attempt per check (health, detailed, 3 probes, metrics) for the service.
GIVE_UP_BOUND = 10

HTTP_FAULTS: dict[str, Route] = {
    "http-500": Route(500, "internal error", content_type="text/plain"),
    "http-429": Route(429, {"error": "slow down"}, headers={"Retry-After": "3600"}),
    "truncated": Route(200, b'{"status": "success", "data": {"resultType": "matr'),
    "garbage": Route(200, bytes(range(256)) * 8, content_type="application/octet-stream"),
    "html": Route(
        200,
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        content_type="text/html",
    ),
}


#: Mid-run faults: ``dies-after-N`` relays the first N requests to the real dependency, then
#: closes every connection without a word (the dependency died after the first cells ran).
DIES = "dies-after-"


def _dies_after(fault: str) -> int | None:
    return int(fault.removeprefix(DIES)) if fault.startswith(DIES) else None


@dataclass(frozen=True)
class Row:
    notebook: str
    dependency: str
    fault: str
    status: str  # what the run must end as; "VERDICT": OK, WARN or CRIT; "UNKNOWN*": see TABLE

    @property
    def id(self) -> str:
        return f"{self.notebook.replace('/', '.')}-{self.dependency}-{self.fault}"


def _rows(notebook: str, dependency: str, statuses: dict[str, str]) -> list[Row]:
    return [Row(notebook, dependency, fault, status) for fault, status in statuses.items()]


# The table. A dependency that refuses or resets connections was measured: it is down (CRIT
# for a health check). One that never answers, or answers what cannot be read, measured
# nothing (UNKNOWN). A slow one within the timeouts measures what a healthy one does: a verdict
# ("VERDICT": OK, WARN or CRIT — which one follows the sandbox's live traffic, not the fault).
TABLE: list[Row] = [
    *_rows("health_inspection", "api", {
        "refused": "CRIT", "reset": "CRIT", "hang": "UNKNOWN", "slow": "WARN",
        "http-500": "CRIT", "http-429": "CRIT", "truncated": "UNKNOWN", "garbage": "UNKNOWN",
        "html": "UNKNOWN",
    }),
    *_rows("health_inspection", "ai", {"refused": "CRIT", "hang": "UNKNOWN", "slow": "WARN"}),
    *_rows("health_inspection", "redis", {"refused": "CRIT", "hang": "UNKNOWN"}),
    *_rows("health_inspection", "mongodb", {
        "refused": "CRIT", "reset": "CRIT", "hang": "UNKNOWN",
    }),
    *_rows("metrics_dashboard", "prometheus", {
        "refused": "UNKNOWN", "reset": "UNKNOWN", "hang": "UNKNOWN", "slow": "VERDICT",
        "http-500": "UNKNOWN", "http-429": "UNKNOWN", "truncated": "UNKNOWN",
        "garbage": "UNKNOWN", "html": "UNKNOWN",
    }),
    # Nothing backtested is no verdict on the rules (it said "CRIT 0/4 incidents detected").
    *_rows("alert_tuning", "prometheus", {
        "refused": "UNKNOWN", "hang": "UNKNOWN", "http-500": "UNKNOWN", "http-429": "UNKNOWN",
        "garbage": "UNKNOWN", "html": "UNKNOWN",
    }),
    # S3 that cannot be read: the restore of the local copy is measured, S3 is not (UNKNOWN,
    # and no "missing in s3" verdicts on a listing that never came). Refused and 500 take the
    # same path in the backup runbook's rows below.
    *_rows("backup_restore_drill", "s3", {"hang": "UNKNOWN", "garbage": "UNKNOWN"}),
    *_rows("runbooks/high_error_rate", "prometheus", {
        "refused": "UNKNOWN", "hang": "UNKNOWN", "slow": "VERDICT", "http-500": "UNKNOWN",
        "truncated": "UNKNOWN", f"{DIES}1": "UNKNOWN",
    }),
    # The explorer judges the logs; the metrics beside them are context (a finding says they
    # could not be drawn), so the logs' verdict stands.
    *_rows("incident_explorer", "prometheus", {
        "refused": "VERDICT", "hang": "VERDICT", "garbage": "VERDICT", f"{DIES}2": "VERDICT",
    }),
    *_rows("runbooks/slow_api_response", "prometheus", {
        "refused": "UNKNOWN", "hang": "UNKNOWN", "truncated": "UNKNOWN", f"{DIES}1": "UNKNOWN",
    }),
    *_rows("runbooks/high_memory_usage", "prometheus", {
        "refused": "UNKNOWN", "http-429": "UNKNOWN", "html": "UNKNOWN",
    }),
    # The database runbook also reads the connection-failure metrics: when the sandbox's traffic
    # has had failures in the window, that measured CRIT outranks the hung server's UNKNOWN
    # ("UNKNOWN*": UNKNOWN, or CRIT from something else measured; the server's finding UNKNOWN).
    *_rows("runbooks/database_issues", "mongodb", {
        "refused": "CRIT", "reset": "CRIT", "hang": "UNKNOWN*",
    }),
    *_rows("runbooks/database_issues", "redis", {"refused": "CRIT", "hang": "UNKNOWN*"}),
    *_rows("runbooks/database_issues", "prometheus", {"refused": "UNKNOWN", "garbage": "UNKNOWN"}),
    # The backup runbook checks that the nightly job can reach S3 and MongoDB: refused or 500
    # is a verdict (they are down), no answer or an unreadable one is not.
    *_rows("runbooks/backup_failure", "s3", {
        "refused": "CRIT", "hang": "UNKNOWN", "http-500": "CRIT", "garbage": "UNKNOWN",
    }),
    *_rows("runbooks/backup_failure", "mongodb", {"refused": "CRIT", "hang": "UNKNOWN"}),
    # A restore target that refuses is down (the drill failed); one that never answers: the
    # drill measured nothing; one whose connections die halfway through the restore failed it.
    *_rows("backup_restore_drill", "mongodb", {"refused": "CRIT", "hang": "UNKNOWN", "cut": "CRIT"}),
    # Faults halfway through: the first requests are answered, then the dependency dies.
    *_rows("health_inspection", "api", {f"{DIES}2": "CRIT"}),
    *_rows("metrics_dashboard", "prometheus", {f"{DIES}10": "UNKNOWN"}),
    *_rows("alert_tuning", "prometheus", {f"{DIES}3": "UNKNOWN"}),
    # The receivers: a scheduled health inspection (notify_on: always) whose Slack webhook or
    # SMTP server is sick. The run's verdict is the run's; the failed delivery is recorded in
    # the scheduler's history, naming the channel, and costs a bounded wait.
    *_rows("health_inspection", "slack", {"refused": "VERDICT", "hang": "VERDICT",
                                          "http-429": "VERDICT"}),
    *_rows("health_inspection", "smtp", {"refused": "VERDICT", "hang": "VERDICT"}),
]  # fmt: skip

#: Dependencies a notebook does not call: the scheduler notifies them after the run.
_RECEIVERS = {"slack": "slack", "smtp": "email"}

#: Parameters of every run of a notebook (alert tuning over two days, not thirty; the drill
#: verifies only what it restores).
_PARAMETERS = {
    "alert_tuning": ["-p", "window", "2d"],
    "backup_restore_drill": ["-p", "verify_all", "false"],
}
#: Deadlines other than DEADLINE_S: the drill restores 100,000 documents (90 s alone, 200 s
#: beside the rest of the matrix and the core suite on 2 cores).
_DEADLINES = {"backup_restore_drill": 300}

#: Where each dependency sits in the sandbox's environment, and how to point it elsewhere.
_PORT = {
    "api": "api",
    "ai": "ai",
    "redis": "redis",
    "mongodb": "mongodb",
    "prometheus": "prometheus",
    "s3": "s3",
    "slack": "slack",
    "smtp": "smtp",
}


def _override(dependency: str, address: str) -> dict[str, Any]:
    return {
        "api": {"service": {"base_url": f"http://{address}"}},
        "ai": {"ai_service": {"url": f"http://{address}/health"}},
        "redis": {"redis": {"url": f"redis://{address}/0"}},
        "mongodb": {"mongodb": {"uri": f"mongodb://{address}/"}},
        "prometheus": {"prometheus": {"url": f"http://{address}"}},
        "s3": {"backups": {"s3": {"endpoint_url": f"http://{address}"}}},
        "slack": {"notifications": {"slack": {"webhook_url": f"http://{address}/services/x"}}},
        "smtp": {
            "notifications": {
                "email": {
                    "smtp_host": address.rsplit(":", 1)[0],
                    "smtp_port": int(address.rsplit(":", 1)[1]),
                }
            }
        },
    }[dependency]


@dataclass
class Result:
    row: Row
    code: int
    took_s: float
    outputs: Path
    stderr: str
    requests: int | None = None  # to the HTTP fault server

    def summary(self) -> dict[str, Any]:
        lines = (self.outputs / "ledger.jsonl").read_text().splitlines()
        runs = [json.loads(x) for x in lines if '"status"' in x]
        assert len(runs) == 1, f"{self.row.id}: ledger has {len(runs)} runs\n{self.stderr}"
        return runs[0]


def _environment(base: Path, folder: Path, name: str, extra: dict[str, Any]) -> Path:
    doc = {
        "extends": str(base),
        "name": name,
        "check_timeout_s": 3,
        "service": {"headers": {"X-Canary": "${SWB_FAULT_CANARY}"}},
        **extra,
    }
    if "service" in extra:
        doc["service"] = {**extra["service"], "headers": {"X-Canary": "${SWB_FAULT_CANARY}"}}
    doc.setdefault("prometheus", {})["timeout_s"] = 3
    # Drills run side by side: a scratch database each (a drill refuses a non-empty one).
    doc.setdefault("backups", {})["scratch_database"] = _scratch(name)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _deadline(notebook: str) -> int:
    return _DEADLINES.get(notebook, DEADLINE_S)


def _command(row: Row, env_file: Path) -> list[str]:
    """``sreworkbook run`` for the row; ``schedule run`` of a one-job schedule for receivers."""
    if row.dependency not in _RECEIVERS:
        return [
            "run",
            row.notebook,
            "--env",
            str(env_file),
            "--deadline",
            str(_deadline(row.notebook)),
            "-q",
            *_PARAMETERS.get(row.notebook, []),
        ]
    schedule = env_file.with_suffix(".schedule.yaml")
    job = {
        "name": "notify-check",
        "notebook": row.notebook,
        "cron": "0 0 1 1 *",
        "timeout_s": _deadline(row.notebook),
        "notify_on": ["always"],
    }
    schedule.write_text(yaml.safe_dump({"jobs": [job]}), encoding="utf-8")
    return ["schedule", "--schedule", str(schedule), "run", "notify-check", "--env", str(env_file)]


def _run(row: Row, env_file: Path, outputs: Path) -> tuple[int, float, str]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), "--outputs", str(outputs),
         *_command(row, env_file)],
        capture_output=True, text=True, timeout=_deadline(row.notebook) + 120, check=False,
        env={**os.environ, "SWB_FAULT_CANARY": CANARY},
    )  # fmt: skip
    return done.returncode, time.monotonic() - began, done.stdout + done.stderr


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[Toxiproxy]:
    with toxiproxy_server() as server:
        yield server


def _scratch(name: str) -> str:
    """The scratch database of the run called ``name``."""
    return "".join(c if c.isalnum() else "_" for c in name) + "_restore_test"


def _source_database(sandbox: Any) -> dict[str, tuple[int, list[Any]]]:
    """Each collection of the source database: its count and its first ids (in id order)."""
    import pymongo

    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=10_000) as client:
        db = client[sandbox.env.mongodb.database]
        return {
            name: (
                db[name].count_documents({}),
                [d["_id"] for d in db[name].find({}, {"_id": 1}).sort("_id", 1).limit(50)],
            )
            for name in sorted(db.list_collection_names())
        }


@pytest.fixture(scope="module")
def source_before(sandbox: Any) -> dict[str, tuple[int, list[Any]]]:
    """The source database before the matrix's drills ran."""
    sandbox.require("mongodb")
    return _source_database(sandbox)


@pytest.fixture(scope="module")
def matrix(
    request: pytest.FixtureRequest,
    sandbox: Any,
    toxiproxy: Toxiproxy,
    source_before: dict[str, tuple[int, list[Any]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Result]:
    """Every row of the table (and a healthy baseline per notebook), run in parallel."""
    sandbox.require("api", "ai", "redis", "mongodb", "prometheus", "s3")
    folder = tmp_path_factory.mktemp("faults")
    ports = {d: int(_address(sandbox, d).rsplit(":", 1)[1]) for d in _PORT}
    jobs: list[tuple[Row, Path, CannedServer | None]] = []
    rows = _selected(request)
    with contextlib.ExitStack() as stack:
        for notebook in sorted({r.notebook for r in rows}):
            baseline = Row(notebook, "none", "baseline", "VERDICT")
            jobs.append((baseline, _environment(sandbox.env_file, folder, baseline.id, {}), None))
        for row in rows:
            if row.fault in FAULTS:
                proxy = toxiproxy.proxy(row.id, f"127.0.0.1:{ports[row.dependency]}")
                proxy.fault(row.fault)
                extra, server = _override(row.dependency, proxy.listen), None
            else:
                server = start_http()
                stack.callback(server.stop)
                _misbehave(server, row, f"http://{_address(sandbox, row.dependency)}")
                extra = _override(row.dependency, f"127.0.0.1:{server.port}")
            jobs.append((row, _environment(sandbox.env_file, folder, row.id, extra), server))

        def one(job: tuple[Row, Path, CannedServer | None]) -> Result:
            row, env, server = job
            outputs = folder / "outputs" / row.id
            code, took, said = _run(row, env, outputs)
            seen = len(server.seen) if server is not None else None
            return Result(row, code, took, outputs, said, seen)

        began = time.monotonic()
        # Four at once (many rows spend their time waiting on a hanging dependency), the longest
        # first so that the drills do not finish last.
        jobs.sort(key=lambda job: -_deadline(job[0].notebook))
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = {r.row.id: r for r in pool.map(one, jobs)}
        _record(results, time.monotonic() - began)
    return results


def _record(results: dict[str, Result], took_s: float) -> None:
    """The matrix's runs, one line each, in ``outputs/fault-matrix.txt`` (a CI artefact)."""
    lines = [f"fault matrix: {len(results)} runs in {took_s:.0f} s (4 at once)"]
    for result in results.values():
        try:
            said = result.summary()
            status, headline = said["status"], said["headline"]
        except (AssertionError, OSError, ValueError):
            status, headline = "?", "no ledger line"
        lines.append(f"{result.row.id:60} {status:8} {result.took_s:5.0f} s  {headline[:120]}")
    (ROOT / "outputs").mkdir(exist_ok=True)
    (ROOT / "outputs" / "fault-matrix.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n" + lines[0])


def _misbehave(server: CannedServer, row: Row, upstream: str) -> None:
    """Make ``server`` answer as ``row``'s fault says."""
    after = _dies_after(row.fault)
    if after is None:
        server.on(lambda _: True, HTTP_FAULTS[row.fault])
        return
    server.on(lambda _: len(server.seen) <= after, Route(forward=upstream))
    server.on(lambda _: True, Route(close=True))


def _selected(request: pytest.FixtureRequest) -> list[Row]:
    """The rows this session runs (``-k`` picks some), or the whole table."""
    ids = {
        item.callspec.params["row"].id
        for item in request.session.items
        if "row" in getattr(getattr(item, "callspec", None), "params", {})
    }
    return [row for row in TABLE if row.id in ids] or TABLE


def _address(sandbox: Any, dependency: str) -> str:
    env = sandbox.env
    url = {
        "api": env.service.base_url,
        "ai": env.ai_service.url,
        "redis": env.redis.url,
        "mongodb": env.mongodb.uri,
        "prometheus": env.prometheus.url,
        "s3": env.backups.s3.endpoint_url,
        "slack": env.notifications.slack.webhook_url,
        "smtp": f"smtp://{env.notifications.email.smtp_host}:{env.notifications.email.smtp_port}",
    }[dependency]
    return url.split("://", 1)[1].split("/", 1)[0]


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.id)
def test_row(matrix: dict[str, Result], row: Row) -> None:
    result = matrix[row.id]
    expected = {"VERDICT": ("OK", "WARN", "CRIT"), "UNKNOWN*": ("UNKNOWN", "CRIT")}.get(
        row.status, (row.status,)
    )
    summary = result.summary()
    if row.status == "UNKNOWN*":
        assert any(f["severity"] == "UNKNOWN" for f in summary["findings"]), summary["findings"]
    assert summary["status"] in expected, (
        f"{row.id}: {summary['status']} (expected {expected}): {summary['headline']}\n"
        + "\n".join(f"  {f['severity']} {f['title']}: {f['detail']}" for f in summary["findings"])
    )
    # Within its budget: the run's own clock (from before the kernel starts to the report
    # written). The process around it (the interpreter starting, the index rebuilt, exiting)
    # took up to 46 s more on this machine with three runs and other suites at once.
    deadline = _deadline(row.notebook)
    assert summary["duration_s"] < deadline, f"{row.id} took {summary['duration_s']:.0f} s"
    assert result.took_s < deadline + 60, f"{row.id} took {result.took_s:.0f} s in all"
    assert result.code != 124 and summary["status"] != "TIMEOUT"  # the deadline never fired
    run_dir = result.outputs / summary["report"].rsplit("/", 1)[0]
    report = (run_dir / "report.html").read_text()
    assert "Traceback" not in report
    for path in result.outputs.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".jsonl", ".ipynb"):
            assert CANARY not in path.read_text(errors="replace"), f"{row.id}: canary in {path}"
    assert CANARY not in result.stderr
    if result.requests is not None:
        bound = GIVE_UP_BOUND + (_dies_after(row.fault) or 0)
        assert result.requests <= bound, f"{row.id}: {result.requests} requests"
    if row.dependency in _RECEIVERS:
        history = (result.outputs / "schedule" / "history.jsonl").read_text().splitlines()
        failed = [json.loads(x) for x in history if '"notify-failed"' in x]
        assert len(failed) == 1, f"{row.id}: {history}"
        assert failed[0]["error"].startswith(_RECEIVERS[row.dependency]), failed[0]


def test_the_healthy_baselines_are_verdicts(matrix: dict[str, Result]) -> None:
    for notebook in {r.row.notebook for r in matrix.values()}:
        summary = matrix[Row(notebook, "none", "baseline", "").id].summary()
        assert summary["status"] in ("OK", "WARN", "CRIT"), (notebook, summary["headline"])


def test_the_drills_left_the_source_database_unchanged(
    matrix: dict[str, Result], source_before: dict[str, tuple[int, list[Any]]], sandbox: Any
) -> None:
    assert any(r.row.notebook == "backup_restore_drill" for r in matrix.values())
    assert sum(count for count, _ in source_before.values()) >= 100_000
    assert _source_database(sandbox) == source_before
    # and dropped their scratch databases, also where the restore was cut off halfway
    import pymongo

    ours = {_scratch(r.row.id) for r in matrix.values()}
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=10_000) as client:
        left = ours & set(client.list_database_names())
    assert not left, left
