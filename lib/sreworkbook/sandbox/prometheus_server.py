"""The sandbox's Prometheus: the Debian binary, 30 days of backfilled history, scraping the
demo API every 15 s, evaluating the seed's alert rules and sending alerts to the sandbox's
Alertmanager."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sreworkbook.config import PrometheusConfig
from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.alertmanager_server import write_rule_files
from sreworkbook.sandbox.backfill import load_history
from sreworkbook.sandbox.history import HistorySpec
from sreworkbook.sandbox.layout import Context, endpoint_of
from sreworkbook.sandbox.process import ensure_port_free, http_ok, spawn, wait_ready
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["prometheus_argv", "prometheus_config", "start_prometheus"]

NAME = "prometheus"
RETENTION = "60d"


def prometheus_config(
    job: str,
    targets: list[str],
    *,
    scrape_interval: str = "15s",
    rule_files: list[str] | None = None,
    alertmanagers: list[str] | None = None,
) -> str:
    """The ``prometheus.yml`` the sandbox runs: one job scraping the demo API, and the rules
    it evaluates and the Alertmanagers it sends alerts to, when given."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": targets}],
            }
        ],
    }
    if rule_files:
        config["rule_files"] = rule_files
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]}
    return "# Written by `sreworkbook sandbox up`; edits are overwritten.\n" + yaml.safe_dump(
        config, sort_keys=False
    )


def prometheus_argv(
    binary: str,
    *,
    config: Path,
    address: str,
    tsdb: Path,
    retention: str = RETENTION,
    extra: Sequence[str] = (),
) -> list[str]:
    """The ``prometheus`` command line the sandbox (and the tests) run."""
    return [
        binary,
        f"--config.file={config}",
        f"--web.listen-address={address}",
        f"--storage.tsdb.path={tsdb}",
        f"--storage.tsdb.retention.time={retention}",
        *extra,
    ]


def start_prometheus(ctx: Context) -> Record:
    """Load the history (unless already loaded), write the config and start Prometheus."""
    where = ctx.endpoint(NAME)
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        raise SandboxError(
            "no prometheus/promtool on PATH (Debian: apt-get install prometheus)", component=NAME
        )
    ensure_port_free(where.host, where.port, component=NAME)
    job = (ctx.env.prometheus or PrometheusConfig(url=where.http)).job
    api = endpoint_of(ctx.env, "api")
    home = ctx.layout.dir(NAME)
    tsdb = home / "data"
    history = "no history (the environment has no service to label it with)"
    if api is not None:
        spec = HistorySpec.ending_now(
            ctx.now,
            job=job,
            instance=api.address,
            days=ctx.config.history_days,
            step=ctx.config.history_step_s,
        )
        ctx.log(f"{NAME}: loading {ctx.config.history_days} days of history (step {spec.step} s)")
        report = load_history(
            spec,
            tsdb=tsdb,
            incidents_file=ctx.layout.incidents_file,
            promtool=promtool,
            cache_dir=ctx.history_cache,
            log=ctx.log,
            progress=lambda what, done, total: ctx.progress.step(NAME, what, done, total),
        )
        history = report.summary()
        ctx.log(f"{NAME}: {history}")
    config = home / "prometheus.yml"
    rule_files = [write_rule_files(ctx, home / "rules")]
    try:
        manager = endpoint_of(ctx.env, "alertmanager")
    except SandboxError:
        manager = None  # reported by the alertmanager component itself
    config.write_text(
        prometheus_config(
            job,
            [api.address] if api else [],
            rule_files=rule_files,
            alertmanagers=[manager.address] if manager else None,
        ),
        encoding="utf-8",
    )
    # Alerts evaluated before Alertmanager is discovered are dropped; resend soon (not 1 m).
    extra = ["--rules.alert.resend-delay=10s"]
    argv = prometheus_argv(binary, config=config, address=where.address, tsdb=tsdb, extra=extra)
    out = ctx.layout.out(NAME)
    pid, ticks = spawn(NAME, argv, log_path=out, cwd=home)
    wait_ready(NAME, lambda: http_ok(where.http + "/-/ready"), pid=pid, timeout_s=120, log_path=out)
    return Record(NAME, RUNNING, pid, ticks, where.url, history, backend="prometheus")
