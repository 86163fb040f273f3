"""The Containerfile, built for real with podman and run on the sandbox.

No registry is reachable here, so the base image comes from Debian's own packages: an
``mmdebstrap`` rootfs (python3, venv, CA certificates) imported as
``localhost/debian-python:bookworm`` and passed as ``--build-arg BASE=``; the same file
builds unchanged ``FROM python:3.11-slim`` on a normal machine. The rootfs tarball is cached in
``.tools/container/`` and podman keeps its layers, so a later session rebuilds only what
changed. The wheels come from the install tier's wheelhouse, completed for the image's own
Python (its environment markers differ from the host's). Building and running follow
``../shared/notes/containers.md``: chroot isolation, runc, cgroupfs, explicit ulimits.

The image's name comes from ``image:`` in ``parameters/schedule.yaml`` (or
``$SREWORKBOOK_IMAGE``), the one the Kubernetes export names; the exported CronJob's own
command is run in it, read-only with tmpfs where the CronJob mounts emptyDirs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from sreworkbook.schedule import load_schedule
from sreworkbook.schedule.export import ExportOptions, export

from .conftest import ROOT, Wheelhouse, base_requirements, unavailable

pytestmark = [pytest.mark.container, pytest.mark.install, pytest.mark.integration]

CACHE = ROOT / ".tools" / "container"
BASE = "localhost/debian-python:bookworm"
ROOTFS_PACKAGES = "python3,python3-venv,ca-certificates"
UID = 10001
WORKDIR = "/opt/sreworkbook"
#: ../shared/notes/containers.md: crun refuses this machine's hybrid cgroups; explicit rlimits.
RUN = [
    "podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "run", "--rm",
    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
]  # fmt: skip
_MARKERS = """
import json, os, platform, sys
info = sys.implementation.version
version = f"{info.major}.{info.minor}.{info.micro}"
print(json.dumps({
    "implementation_name": sys.implementation.name, "implementation_version": version,
    "os_name": os.name, "platform_machine": platform.machine(),
    "platform_release": platform.release(), "platform_system": platform.system(),
    "platform_version": platform.version(), "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}))
"""


def image_name() -> str:
    """What the Kubernetes export names: ``$SREWORKBOOK_IMAGE``, else the schedule's."""
    name = (
        os.environ.get("SREWORKBOOK_IMAGE")
        or load_schedule(ROOT / "parameters" / "schedule.yaml").image
    )
    assert name, "parameters/schedule.yaml names no image"
    return name


def _run(argv: list[str], *, timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"{what}: {exc}")
        raise AssertionError("unreachable") from exc
    if done.returncode != 0:
        unavailable(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout)[-3000:]}")
    return done


@pytest.fixture(scope="session")
def base_image() -> str:
    """``localhost/debian-python:bookworm``: from podman's store, the cached rootfs, or built."""
    for tool in ("podman", "mmdebstrap"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (make container-tools installs it as root)")
    exists = subprocess.run(["podman", "image", "exists", BASE], capture_output=True, check=False)
    if exists.returncode == 0:
        return BASE
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / "debian-python-bookworm.tar"
    if not tarball.is_file():
        started = time.monotonic()
        partial = tarball.with_suffix(".partial.tar")
        _run(
            ["mmdebstrap", "--variant=minbase", f"--include={ROOTFS_PACKAGES}", "bookworm",
             str(partial)],
            timeout=900, what="mmdebstrap of the base rootfs",
        )  # fmt: skip
        partial.rename(tarball)
        print(f"\nbase rootfs built in {time.monotonic() - started:.0f} s")
    _run(["podman", "import", str(tarball), BASE], timeout=300, what="podman import")
    return BASE


def _markers(base: str) -> dict[str, str]:
    done = _run(
        [*RUN, "--network", "none", "--entrypoint", "python3", base, "-c", _MARKERS],
        timeout=120, what="reading the base image's Python",
    )  # fmt: skip
    env: dict[str, str] = json.loads(done.stdout)
    return env


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(name).decode("utf-8"))
    return [Requirement(text) for text in meta.get_all("Requires-Dist") or []]


def _missing(folders: list[Path], roots: list[str], env: dict[str, str]) -> list[Requirement]:
    """Requirements the image's Python needs (its markers) that no wheel in ``folders`` meets."""
    wheels = {
        canonicalize_name(parse_wheel_filename(w.name)[0]): w
        for folder in folders
        for w in folder.glob("*.whl")
    }
    wanted = [Requirement(r) for r in roots]
    missing: dict[str, Requirement] = {}
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        marker: Marker | None = requirement.marker
        if marker is not None and not marker.evaluate({**env, "extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        wheel = wheels.get(name)
        if wheel is None:
            missing[name] = requirement
            continue
        for dep in _wheel_requirements(wheel):
            if dep.marker is None or dep.marker.evaluate(
                {**env, "extra": next(iter(requirement.extras), "")}
            ):
                wanted.append(Requirement(f"{dep.name}{dep.specifier}"))
    return list(missing.values())


@pytest.fixture(scope="session")
def image_wheels(wheelhouse: Wheelhouse, base_image: str) -> Path:
    """Wheels for the image: the wheelhouse, completed for the image's Python (cached)."""
    env = _markers(base_image)
    extra = wheelhouse.deps.parent / f"{wheelhouse.deps.name}-py{env['python_full_version']}"
    extra.mkdir(exist_ok=True)
    for _ in range(5):  # a fetched wheel may need more
        missing = _missing([wheelhouse.deps, extra], base_requirements(), env)
        if not missing:
            return extra
        _run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", str(extra), *(str(r).split(";")[0] for r in missing)],
            timeout=600, what="pip download of the image's extra wheels",
        )  # fmt: skip
    unavailable(f"the image's wheels stay incomplete: {missing}")
    return extra


@dataclass(frozen=True)
class Image:
    name: str
    build_s: float
    size_mib: float


@pytest.fixture(scope="session")
def image(
    base_image: str,
    wheelhouse: Wheelhouse,
    image_wheels: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Image:
    """The Containerfile built from a context holding what it copies, and the wheels."""
    context = tmp_path_factory.mktemp("container-context")
    for name in ("Containerfile", ".containerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for folder in ("lib", "notebooks", "parameters"):
        shutil.copytree(
            ROOT / folder,
            context / folder,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints"),
        )
    wheels = context / "wheels"
    wheels.mkdir()
    for folder in (wheelhouse.deps, image_wheels):
        for wheel in folder.glob("*.whl"):
            shutil.copy(wheel, wheels / wheel.name)
    name = image_name()
    started = time.monotonic()
    _run(
        ["podman", "build", "--isolation=chroot", "--build-arg", f"BASE={base_image}",
         "-t", name, "-f", str(context / "Containerfile"), str(context)],
        timeout=1800, what="podman build of the Containerfile",
    )  # fmt: skip
    build_s = time.monotonic() - started
    inspect = json.loads(
        _run(["podman", "image", "inspect", name], timeout=60, what="inspect").stdout
    )[0]
    size = inspect["Size"] / 2**20
    print(f"\nimage {name}: built in {build_s:.0f} s, {size:.0f} MiB")
    return Image(name, build_s, size)


def test_the_image_is_lean_non_root_and_holds_no_secret(image: Image) -> None:
    inspect: dict[str, Any] = json.loads(
        subprocess.run(
            ["podman", "image", "inspect", image.name], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    config = inspect["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["sreworkbook", "--root", WORKDIR]
    assert config["Cmd"] == ["schedule", "serve"]
    assert set(config["Volumes"]) == {f"{WORKDIR}/outputs", f"{WORKDIR}/parameters"}
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SREWORKBOOK_OUTPUTS"] == f"{WORKDIR}/outputs"
    secretish = [k for k in env if any(w in k.upper() for w in ("PASS", "TOKEN", "SECRET", "KEY"))]
    assert secretish == []
    probe = subprocess.run(
        [*RUN, "--network", "none", "--entrypoint", "python", image.name, "-c",
         "import importlib.util as u, json, os, sys; print(json.dumps({"
         "'extras': [m for m in ('moto', 'aiosmtpd', 'jupyterlab', 'polars', 'pyarrow', "
         "'nbconvert') if u.find_spec(m)], 'uid': os.getuid(), 'python': sys.version}))"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["extras"] == [] and found["uid"] == UID
    # No parameter file in the image holds a literal secret (the ConfigMap check, here too).
    from sreworkbook.schedule.export.k8s_secrets import literal_secrets

    for path in (ROOT / "parameters").glob("*.yaml"):
        assert literal_secrets(path.read_text(), source=path.name) == [], path.name
    assert image.size_mib < 1000


def _parameters_for(sandbox: Any, folder: Path) -> Path:
    """The parameter files the container sees: the shipped ones, and ``sandbox.yaml``
    pointing at the test sandbox's ports (it extends the shipped sandbox file)."""
    shutil.copytree(ROOT / "parameters", folder)
    (folder / "sandbox.yaml").rename(folder / "shipped-sandbox.yaml")
    doc = yaml.safe_load(sandbox.env_file.read_text())
    doc["extends"] = "shipped-sandbox.yaml"
    doc["name"] = "sandbox"
    (folder / "sandbox.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


@pytest.fixture
def volumes(sandbox: Any, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    os.chown(outputs, UID, UID)  # the image's user writes here, as fsGroup does in Kubernetes
    yield outputs, _parameters_for(sandbox, tmp_path / "parameters")


def _mounts(outputs: Path, parameters: Path) -> list[str]:
    return [
        "-v", f"{outputs}:{WORKDIR}/outputs",
        "-v", f"{parameters}:{WORKDIR}/parameters:ro",
        # As the CronJob: a read-only root, emptyDirs at /tmp and $HOME.
        "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/home/sreworkbook",
    ]  # fmt: skip


def test_the_image_runs_health_inspection_on_the_sandbox(
    image: Image, sandbox: Any, volumes: tuple[Path, Path]
) -> None:
    sandbox.require("api", "mongodb", "redis", "ai")
    outputs, parameters = volumes
    started = time.monotonic()
    done = subprocess.run(
        [*RUN, "--network", "host", *_mounts(outputs, parameters), image.name,
         "run", "health_inspection", "--env", "sandbox"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    print(f"\ncontainer run: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(("OK      health_inspection on sandbox", "WARN    "))
    summary = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    assert summary["notebook"] == "health_inspection" and summary["env"] == "sandbox"
    assert summary["metrics"]["checks_crit"] == 0 and summary["metrics"]["checks_total"] >= 12
    assert summary["metrics"]["mongo_ping_ms"] > 0
    run_dir = outputs / summary["report"].rsplit("/", 1)[0]
    assert (run_dir / "report.html").stat().st_uid == UID
    assert "Plotly.newPlot" in (run_dir / "report.html").read_text()
    assert (outputs / "index.html").is_file()


def test_the_kubernetes_cronjob_command_runs_in_the_image(
    image: Image, sandbox: Any, volumes: tuple[Path, Path], tmp_path: Path
) -> None:
    """What the exported CronJob runs (image, command, env), run in podman as it would be."""
    sandbox.require("api", "mongodb", "redis", "ai")
    outputs, parameters = volumes
    export(load_schedule(parameters / "schedule.yaml"), "k8s", tmp_path / "k8s", ExportOptions())
    cronjob = yaml.safe_load((tmp_path / "k8s" / "cronjob-health-inspection.yaml").read_text())
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image.name
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    command = [c.replace("$(SREWORKBOOK_OUTPUTS)", env["SREWORKBOOK_OUTPUTS"]) for c in container["command"]]  # fmt: skip
    flags = [x for name, value in env.items() for x in ("-e", f"{name}={value}")]
    done = subprocess.run(
        [*RUN, "--network", "host", *_mounts(outputs, parameters), *flags,
         "--workdir", container["workingDir"], "--entrypoint", command[0], image.name,
         *command[1:]],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    beats = json.loads((outputs / "schedule" / "heartbeats.json").read_text())
    assert beats["health-inspection"]["last_success"]
    summary = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    assert summary["notebook"] == "health_inspection" and summary["status"] in ("OK", "WARN")
