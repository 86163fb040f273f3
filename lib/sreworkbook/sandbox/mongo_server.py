"""The sandbox's MongoDB-compatible server: ``mongod`` if installed, else FerretDB (SQLite),
else Docker's ``mongo`` image; then seeded with the demo collections."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pymongo
import pymongo.errors

from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.layout import Context, Endpoint
from sreworkbook.sandbox.process import ensure_port_free, spawn, stop_group, wait_ready
from sreworkbook.sandbox.seed import MARKER_DATABASE, seed_database
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["docker_engine", "ferretdb_argv", "ferretdb_binary", "start_mongodb", "stop_container"]

NAME = "mongodb"
_IMAGE = "mongo:7"


def ferretdb_binary(root: Path) -> str | None:
    """FerretDB from the project's ``.tools/bin`` (where ``go install`` puts it) or ``PATH``."""
    local = root / ".tools" / "bin" / "ferretdb"
    return str(local) if local.is_file() else shutil.which("ferretdb")


def ferretdb_argv(binary: str, *, address: str, state_dir: Path) -> list[str]:
    """The FerretDB command line the sandbox (and the tests) run: SQLite files in
    ``state_dir``, listening on ``address``, no telemetry, errors only."""
    return [
        binary,
        "--handler=sqlite",
        f"--sqlite-url=file:{state_dir}/",
        f"--listen-addr={address}",
        f"--state-dir={state_dir}",
        "--debug-addr=-",
        "--telemetry=disable",
        "--log-level=error",
    ]


def docker_engine() -> str | None:
    """The ``docker`` CLI when its engine answers ``docker info``; else None."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        done = subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return docker if done.returncode == 0 else None


def _container_name(where: Endpoint) -> str:
    return f"sreworkbook-sandbox-mongodb-{where.port}"


def _launch(ctx: Context, where: Endpoint) -> Record:
    """Start the first available server; the record says which one."""
    out = ctx.layout.out(NAME)
    home = ctx.layout.dir(NAME)
    mongod = shutil.which("mongod")
    if mongod:
        dbpath = home / "mongod"
        dbpath.mkdir(exist_ok=True)
        argv = [
            mongod,
            "--bind_ip",
            where.host,
            "--port",
            str(where.port),
            "--dbpath",
            str(dbpath),
            "--quiet",
        ]
        pid, ticks = spawn(NAME, argv, log_path=out)
        return Record(NAME, RUNNING, pid, ticks, where.url, backend="mongod")
    ferret = ferretdb_binary(ctx.layout.root)
    if ferret:
        state = home / "ferretdb"
        state.mkdir(exist_ok=True)
        argv = ferretdb_argv(ferret, address=where.address, state_dir=state)
        pid, ticks = spawn(NAME, argv, log_path=out)
        return Record(NAME, RUNNING, pid, ticks, where.url, backend="ferretdb")
    docker = docker_engine()
    if docker:
        name = _container_name(where)
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=30, check=False)
        volume = home / "docker"
        volume.mkdir(exist_ok=True)
        argv = [
            docker,
            "run",
            "-d",
            "--name",
            name,
            "-p",
            f"{where.address}:27017",
            "-v",
            f"{volume}:/data/db",
            _IMAGE,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise SandboxError(
                f"docker run {_IMAGE} failed: {done.stderr.strip()[-200:]}", component=NAME
            )
        return Record(NAME, RUNNING, None, None, where.url, container=name, backend="docker")
    raise SandboxError(
        "no mongod on PATH, no ferretdb in .tools/bin or on PATH, docker engine not running",
        component=NAME,
    )


def stop_container(name: str) -> None:
    """Remove the Docker container ``name`` (no-op without a working docker CLI)."""
    docker = shutil.which("docker")
    if docker:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60, check=False)


def _pings(client: pymongo.MongoClient[dict[str, Any]]) -> bool:
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False


def start_mongodb(ctx: Context) -> Record:
    """Start the server, wait until it answers ``ping``, seed ``env.mongodb.database``."""
    where = ctx.endpoint(NAME)
    ensure_port_free(where.host, where.port, component=NAME)
    record = _launch(ctx, where)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        host=where.host,
        port=where.port,
        serverSelectionTimeoutMS=1000,
        connectTimeoutMS=1000,
        socketTimeoutMS=120_000,
    )
    try:
        timeout = 120 if record.container else 30
        wait_ready(
            NAME,
            lambda: _pings(client),
            pid=record.pid,
            timeout_s=timeout,
            log_path=ctx.layout.out(NAME),
        )
        database = ctx.env.mongodb.database if ctx.env.mongodb else "tradeai"
        total = ctx.config.seed_documents
        ctx.log(
            f"{NAME}: {record.backend} answers; seeding {database} ({total} documents) if needed"
        )
        marker = client[MARKER_DATABASE]["seeds"]
        report = seed_database(
            client[database],
            marker,
            total=total,
            anchor=ctx.now,
            progress=lambda done, of: ctx.progress.step(NAME, "seeding documents", done, of),
        )
    except (SandboxError, pymongo.errors.PyMongoError) as exc:
        if record.pid is not None:
            stop_group(record.pid, ticks=record.ticks)
        elif record.container:
            stop_container(record.container)
        if isinstance(exc, SandboxError):
            raise
        raise SandboxError(
            f"{record.backend} started but seeding failed: {exc}", component=NAME
        ) from exc
    finally:
        client.close()
    how = "already seeded" if report.skipped else f"seeded in {report.seconds:.1f} s"
    detail = f"{record.backend}, {database}: {report.total} documents ({how})"
    return Record(
        NAME, RUNNING, record.pid, record.ticks, where.url, detail, record.container, record.backend
    )
