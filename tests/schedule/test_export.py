"""Exports checked by the real tools: kubernetes-validate, systemd-analyze, Airflow's DagBag."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule import Schedule, load_schedule, next_after, parse_cron
from sreworkbook.schedule.export import ExportOptions, export, on_calendar, portable_cron
from sreworkbook.schedule.export.airflow import dag_id, task_id

ROOT = Path(__file__).resolve().parents[2]
#: The oldest Kubernetes the manifests promise to work on (CronJob timeZone is GA in 1.27).
KUBERNETES_VERSION = "1.30.0"


def shipped() -> Schedule:
    return load_schedule(ROOT / "parameters" / "schedule.yaml")


@pytest.mark.parametrize(
    ("cron", "expected", "noted"),
    [
        ("*/15 * * * *", "*/15 * * * *", False),
        ("0 7 * * mon", "0 7 * * mon", False),
        ("0 7 * * 7", "0 7 * * 0", False),  # robfig/cron refuses 7
        ("0 7 * * 5-7", "0 7 * * 0,5-6", False),
        ("0 0 1,15 * 5", "0 0 1,15 * 5", False),  # OR everywhere
        ("0 0 1 * 0-7", "0 0 1 * 0-6", False),  # still OR, so every day
        ("0 0 */1 * mon", "0 0 * * mon", False),  # Vixie AND with an every-day field
        ("0 0 */2 * *", "0 0 */2 * *", False),
        ("0 0 */10 * mon", "0 0 * * mon", True),  # cannot be said: widened, with a note
        ("0 0 1-7 * */2", "0 0 1-7 * *", True),
        ("@daily", "@daily", False),
    ],
)
def test_portable_cron(cron: str, expected: str, noted: bool) -> None:
    text, note = portable_cron(parse_cron(cron))
    assert text == expected
    assert (note is not None) is noted


def supported_kubernetes() -> list[str]:
    """The three newest minor releases kubernetes-validate knows (upstream supports three),
    and the oldest the manifests promise (CronJob ``timeZone`` is GA in 1.27)."""
    from kubernetes_validate.utils import all_versions

    minors = sorted({tuple(map(int, v.split(".")[:2])) for v in all_versions()})
    newest = [f"{major}.{minor}.0" for major, minor in minors[-3:]]
    return [KUBERNETES_VERSION, *newest]


def k8s_export(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook.schedule", "--root", str(ROOT), "export",
         "--format", "k8s", "--out", str(tmp_path), *args],
        capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "SREWORKBOOK_IMAGE"}, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize("version", supported_kubernetes())
def test_kubernetes_manifests_pass_kubernetes_validate_strict(tmp_path: Path, version: str) -> None:
    done = k8s_export(tmp_path)
    assert done.returncode == 0, done.stderr
    files = sorted(str(p) for p in tmp_path.iterdir())
    assert len(files) == len(shipped().jobs) + 1
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k", version,
         *files], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("passed") == len(files)


def test_kubernetes_cronjobs_run_the_image_with_configmap_secret_and_resources(
    tmp_path: Path,
) -> None:
    options = ExportOptions(
        secret_refs={"health-inspection": ("TRADEAI_MONGO_URI",)},
        parameter_files={"schedule.yaml": "jobs: []\n", "prod.yaml": "mongodb: {uri: '${X}'}\n"},
    )
    files = export(shipped(), "k8s", tmp_path, options)
    assert sorted(f.name for f in files) == ["configmap-parameters.yaml"] + [
        f"cronjob-{job.name}.yaml" for job in sorted(shipped().jobs, key=lambda j: j.name)
    ]
    for path in files:
        kubernetes_validate.validate(
            yaml.safe_load(path.read_text()), KUBERNETES_VERSION, strict=True
        )
    health = yaml.safe_load((tmp_path / "cronjob-health-inspection.yaml").read_text())
    spec = health["spec"]
    assert spec["schedule"] == "*/15 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 300
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5
    job = shipped().get("health-inspection")
    # 300 s per attempt, 3 attempts, backoffs 30 + 60 s, and 120 s for the pod itself.
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 300 * 3 + 30 + 60 + 120
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == int(job.worst_case_s()) + 120
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == shipped().image == "localhost/sreworkbook:0.1.0"
    assert container["command"][-3:] == ["schedule", "run", "health-inspection"]
    assert {"name": "TRADEAI_MONGO_URI", "valueFrom": {"secretKeyRef": {
        "name": "sreworkbook-secrets", "key": "TRADEAI_MONGO_URI"}}} in container["env"]  # fmt: skip
    assert container["envFrom"] == [
        {"secretRef": {"name": "sreworkbook-secrets", "optional": True}}
    ]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}  # fmt: skip
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["parameters"] == {
        "name": "parameters", "mountPath": "/opt/sreworkbook/parameters", "readOnly": True}  # fmt: skip
    assert mounts["outputs"]["mountPath"] == "/opt/sreworkbook/outputs"
    assert {"name": "SREWORKBOOK_OUTPUTS", "value": "/opt/sreworkbook/outputs"} in container["env"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["parameters"]["configMap"] == {"name": "sreworkbook-parameters"}
    assert volumes["outputs"]["persistentVolumeClaim"] == {"claimName": "sreworkbook-outputs"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    drill = yaml.safe_load((tmp_path / "cronjob-backup-drill.yaml").read_text())
    (drill_container,) = drill["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert drill_container["resources"]["limits"] == {"memory": "4Gi"}  # its own, from the file
    configmap = yaml.safe_load((tmp_path / "configmap-parameters.yaml").read_text())
    assert (
        configmap["kind"] == "ConfigMap"
        and configmap["metadata"]["name"] == "sreworkbook-parameters"
    )
    assert configmap["data"] == {
        "prod.yaml": "mongodb: {uri: '${X}'}\n",
        "schedule.yaml": "jobs: []\n",
    }


def test_the_shipped_configmap_holds_the_parameter_files_as_they_are(tmp_path: Path) -> None:
    assert k8s_export(tmp_path).returncode == 0
    configmap = yaml.safe_load((tmp_path / "configmap-parameters.yaml").read_text())
    on_disk = {p.name: p.read_text() for p in (ROOT / "parameters").glob("*.yaml")}
    assert configmap["data"] == on_disk


def test_the_image_comes_from_the_environment_or_the_option(tmp_path: Path) -> None:
    def image(*args: str, env: dict[str, str] | None = None) -> str:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        done = k8s_export(out, *args, env=env)
        assert done.returncode == 0, done.stderr
        manifest = yaml.safe_load((out / "cronjob-health-inspection.yaml").read_text())
        return str(
            manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
        )

    assert image() == "localhost/sreworkbook:0.1.0"
    assert (
        image(env={"SREWORKBOOK_IMAGE": "registry.example/sre/wb:1.2"})
        == "registry.example/sre/wb:1.2"
    )
    assert (
        image("--image", "r.example/wb:9", env={"SREWORKBOOK_IMAGE": "x/y:1"}) == "r.example/wb:9"
    )


def test_no_image_anywhere_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="no container image"):
        export(Schedule(jobs=shipped().jobs), "k8s", tmp_path, ExportOptions())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("mongodb: {uri: 'mongodb://app:s3cret@db:27017/'}\n", "mongodb.uri"),
        ("notifications: {email: {password: hunter22}}\n", "notifications.email.password"),
        ("service: {headers: {Authorization: Bearer abc.def}}\n", "service.headers.Authorization"),
        ("metrics: {datadog: {api_key: 0123abcd}}\n", "metrics.datadog.api_key"),
    ],
)
def test_a_literal_secret_never_reaches_the_configmap(tmp_path: Path, text: str, key: str) -> None:
    options = ExportOptions(parameter_files={"prod.yaml": text})
    with pytest.raises(ParameterError, match=f"literal secret at {re.escape(key)}") as caught:
        export(shipped(), "k8s", tmp_path, options)
    assert caught.value.source == "prod.yaml"
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize(
    "text",
    [
        "mongodb: {uri: '${TRADEAI_MONGO_URI}'}\n",
        "mongodb: {uri: 'mongodb://app:${MONGO_PASSWORD}@db:27017/'}\n",
        "service: {headers: {Authorization: 'Bearer ${TOKEN}'}}\n",
        "notifications: {pagerduty: {routing_key: sandbox-key}}\nsandbox: {data_dir: .sandbox}\n",
    ],
)
def test_references_and_the_sandbox_fake_keys_are_accepted(tmp_path: Path, text: str) -> None:
    export(shipped(), "k8s", tmp_path, ExportOptions(parameter_files={"p.yaml": text}))
    configmap = yaml.safe_load((tmp_path / "configmap-parameters.yaml").read_text())
    assert configmap["data"] == {"p.yaml": text}


def test_a_literal_secret_in_a_parameter_file_fails_the_export_command(tmp_path: Path) -> None:
    root = tmp_path / "wb"
    shutil.copytree(ROOT / "parameters", root / "parameters")
    (root / "notebooks").mkdir()
    (root / "parameters" / "prod.yaml").write_text(
        "name: prod\nredis: {url: 'redis://:s3cretpw@cache:6379/0'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "sreworkbook.schedule", "--root", str(root), "export",
         "--format", "k8s", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 64, done.stderr
    assert "prod.yaml: holds a literal secret at redis.url" in done.stderr
    assert "s3cretpw" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_crontab_lines_round_trip(tmp_path: Path) -> None:
    (path,) = export(shipped(), "cron", tmp_path, ExportOptions())
    lines = [line for line in path.read_text().splitlines() if line and line[0] not in "#"]
    jobs = [line for line in lines if " schedule run " in line]
    assert len(jobs) == len(shipped().jobs)
    for job, line in zip(shipped().jobs, jobs, strict=True):
        assert line.startswith(job.cron + " ")
        assert parse_cron(" ".join(line.split()[:5])) == job.expr
        assert line.split(" schedule run ")[1].startswith(job.name + " ")
    assert "CRON_TZ=UTC" in lines
    assert any(line.endswith("schedule check") for line in lines)


_ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


def _systemd_times(values: list[str], base: datetime, count: int) -> list[datetime]:
    done = subprocess.run(
        ["systemd-analyze", "calendar", f"--iterations={count}",
         f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC", *values],
        capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"},
    )  # fmt: skip
    times = {datetime.fromisoformat(m).replace(tzinfo=UTC) for m in _ELAPSE.findall(done.stdout)}
    return sorted(times)[:count]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
@pytest.mark.parametrize(
    "cron",
    [
        "*/15 * * * *",
        "0 6 * * *",
        "0 7 * * mon",
        "0 0 29 2 *",
        "30 4 1,15 * 5",  # OR: two OnCalendar lines
        "0 0 */10 * mon",  # Vixie AND
        "0 0 13 * fri",
        "5,10-12 */6 * jan-mar,dec 1-5",
        "59 23 28-31 * *",
        "0 0 1 * 0-7",
    ],
)
def test_on_calendar_fires_at_the_cron_times(cron: str) -> None:
    base = datetime(2027, 12, 30, 12, 0, tzinfo=UTC)
    values, _how = on_calendar(parse_cron(cron))
    ours, moment = [], base
    for _ in range(12):
        found = next_after(cron, moment)
        assert found is not None
        ours.append(found)
        moment = found
    assert _systemd_times(values, base, 12) == ours


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_units_pass_verify(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "sreworkbook"
    options = ExportOptions(workdir=str(ROOT), command=str(command), outputs=str(tmp_path / "o"))
    schedule = Schedule.model_validate(
        {"jobs": [*(j.model_dump() for j in shipped().jobs),
                  {"name": "or-rule", "notebook": "n", "cron": "30 4 1,15 * 5"}]}
    )  # fmt: skip
    files = export(schedule, "systemd", tmp_path, options)
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, files)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    timer = (tmp_path / "sreworkbook-or-rule.timer").read_text()
    assert sum(x.startswith("OnCalendar=") for x in timer.splitlines()) == 2
    assert "Persistent=true" in timer
    service = (tmp_path / "sreworkbook-health-inspection.service").read_text()
    assert f"ExecStart={command} --root {ROOT} --outputs {tmp_path / 'o'}" in service


_DAGBAG = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False) if "include_examples" in \\
    DagBag.__init__.__code__.co_varnames else DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "schedule": getattr(dag.timetable, "expression", None)
        or getattr(dag.timetable, "_expression", None) or str(dag.timetable),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tasks": {
            t.task_id: {
                "retries": t.retries,
                "timeout_s": t.execution_timeout.total_seconds(),
                "retry_delay_s": t.retry_delay.total_seconds(),
                "bash_command": t.bash_command,
            }
            for t in dag.tasks
        },
    }
print("DAGBAG=" + json.dumps(out))
"""


def test_airflow_dagbag_loads_the_dag_file(tmp_path: Path, airflow_python: Path) -> None:
    dags = tmp_path / "dags"
    export(shipped(), "airflow", dags, ExportOptions())
    home = tmp_path / "airflow-home"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(airflow_python), "-c", _DAGBAG, str(dags)],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("DAGBAG="))
    bag = json.loads(line.removeprefix("DAGBAG="))
    assert bag["errors"] == {}
    assert sorted(bag["dags"]) == sorted(dag_id(job) for job in shipped().jobs)
    for job in shipped().jobs:
        dag = bag["dags"][dag_id(job)]
        assert dag["schedule"] == job.cron
        assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
        task = dag["tasks"][task_id(job)]
        assert list(dag["tasks"]) == [task_id(job)]
        assert task["retries"] == job.retries
        assert task["timeout_s"] == job.timeout_s
        assert task["retry_delay_s"] == job.backoff_s
        command = " backups take" if job.command == "backups-take" else f" run {job.notebook}"
        assert f"{command} --env {job.env}" in task["bash_command"]


@pytest.mark.parametrize("fmt", ["cron", "systemd", "k8s", "airflow"])
def test_deploy_examples_are_what_export_writes(fmt: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sreworkbook.schedule", "--root", str(ROOT), "export",
         "--format", fmt, "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fresh = {p.name: p.read_text() for p in tmp_path.iterdir()}
    shipped_files = {p.name: p.read_text() for p in (ROOT / "deploy" / fmt).iterdir()}
    assert fresh == shipped_files, f"deploy/{fmt} is stale: run `sreworkbook schedule export`"
