"""``sreworkbook schedule export``: the schedule for cron, systemd, Kubernetes and Airflow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sreworkbook.exceptions import OutputError, ParameterError
from sreworkbook.schedule.export.airflow import write_airflow
from sreworkbook.schedule.export.common import ExportOptions, portable_cron
from sreworkbook.schedule.export.crontab import write_crontab
from sreworkbook.schedule.export.kubernetes import write_kubernetes
from sreworkbook.schedule.export.systemd import on_calendar, write_systemd
from sreworkbook.schedule.model import Schedule

__all__ = ["ExportOptions", "Exporter", "export", "exporters", "on_calendar", "portable_cron"]

Exporter = Callable[[Schedule, Path, ExportOptions], list[Path]]


def exporters() -> dict[str, Exporter]:
    """The formats by name (a fresh mapping each call)."""
    return {
        "cron": write_crontab,
        "systemd": write_systemd,
        "k8s": write_kubernetes,
        "airflow": write_airflow,
    }


def export(schedule: Schedule, fmt: str, out: Path, options: ExportOptions) -> list[Path]:
    """Write ``schedule`` in format ``fmt`` into the folder ``out``; return the files."""
    known = exporters()
    if fmt not in known:
        raise ParameterError(
            f"unknown export format {fmt!r}, did you mean one of: {', '.join(known)}",
            key="--format",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        return known[fmt](schedule, out, options)
    except OSError as exc:
        raise OutputError(f"cannot write the export into {out}: {exc}") from exc
