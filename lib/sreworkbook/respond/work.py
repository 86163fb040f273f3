"""Doing one piece of the responder's work: the runbook run and the reply.

For a firing group the mapped runbook (or the triage notebook) runs through the run pipeline
over a window opening ``lead_s`` before the group's ``startsAt``; the reply carries its
status, headline and report link. For a resolved group the reply gives the duration and, if
the runbook ran, the report of a second run over the whole incident. Alert values reach the
notebook only as parameter values (data); nothing is evaluated.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sreworkbook.config import Environment, NotificationsConfig, ResponderConfig, RunbookMapping
from sreworkbook.exceptions import WorkbookError
from sreworkbook.notify import Delivery, Notification, notifiers_for, notify_all
from sreworkbook.respond.journal import Work
from sreworkbook.results import Status, record
from sreworkbook.timeutil import format_duration, rfc3339

__all__ = [
    "Executor",
    "Outcome",
    "RunResult",
    "Runner",
    "Sender",
    "common",
    "default_sender",
    "incident_id",
    "parameters_for",
    "reply_route",
    "runbook_for",
]


@dataclass(frozen=True)
class RunResult:
    """What a run gave the reply: status, headline, where the report is."""

    notebook: str
    status: Status
    headline: str
    report_url: str
    run_id: str = ""
    #: The report relative to the outputs root (``runs/DAY/ID/report.html``), if local.
    report: str = ""

    def to_dict(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        return cls(
            str(data["notebook"]),
            Status(str(data["status"])),
            str(data["headline"]),
            str(data["report_url"]),
            str(data.get("run_id", "")),
            str(data.get("report", "")),
        )


#: Runs ``notebook`` with ``parameters`` (name → text) under the run contract.
Runner = Callable[[str, Mapping[str, str]], RunResult]
#: Told when a run finished, before the reply (the journal: never run it again).
OnRan = Callable[[str, RunResult], None]
#: Sends a notification to the channels of one ``notifications:`` section.
Sender = Callable[[NotificationsConfig, Notification], Sequence[Delivery]]


def incident_id(group_key: str, opened_at: float, alertname: str) -> str:
    """``20261207T011310Z-HighErrorRate-1a2b3c4d``: time, alert name, hash of the group."""
    when = datetime.fromtimestamp(opened_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9_-]", "", alertname)[:60] or "alert"
    digest = hashlib.sha256(group_key.encode("utf-8")).hexdigest()[:8]
    return f"{when}-{name}-{digest}"


def common(group: Mapping[str, Any], part: str) -> dict[str, str]:
    """The ``labels`` or ``annotations`` every alert of the group shares."""
    alerts = group["alerts"]
    shared = dict(alerts[0][part])
    for alert in alerts[1:]:
        shared = {k: v for k, v in shared.items() if alert[part].get(k) == v}
    return shared


def _starts_at(group: Mapping[str, Any]) -> datetime:
    return min(datetime.fromisoformat(a["startsAt"]) for a in group["alerts"])


def _ends_at(group: Mapping[str, Any]) -> datetime | None:
    ends = [datetime.fromisoformat(a["endsAt"]) for a in group["alerts"] if a.get("endsAt")]
    return max(ends) if ends else None


def runbook_for(config: ResponderConfig, alertname: str) -> RunbookMapping | None:
    """The runbook mapped to ``alertname``, else the triage notebook (or none)."""
    return config.runbooks.get(alertname) or config.triage


def parameters_for(
    mapping: RunbookMapping,
    group: Mapping[str, Any],
    *,
    lead_s: float,
    end: datetime,
) -> dict[str, str]:
    """The notebook's parameters as text, each taken from the alert as the mapping says."""
    labels = common(group, "labels")
    annotations = common(group, "annotations")
    starts = _starts_at(group)
    ends = _ends_at(group)
    values: dict[str, str] = {
        "labels": json.dumps(labels, ensure_ascii=True),
        "alert": json.dumps(
            {"labels": labels, "annotations": annotations, "startsAt": rfc3339(starts)},
            ensure_ascii=True,
        ),
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends) if ends else "",
        "window.start": rfc3339(starts - timedelta(seconds=lead_s)),
        "window.end": rfc3339(end),
    }
    shown: dict[str, str] = {}
    for parameter, source in mapping.parameters.items():
        if source.startswith("label."):
            shown[parameter] = labels.get(source.removeprefix("label."), "")
        elif source.startswith("annotation."):
            shown[parameter] = annotations.get(source.removeprefix("annotation."), "")
        else:
            shown[parameter] = values[source]
    return shown


def reply_route(
    config: ResponderConfig, env: Environment, labels: Mapping[str, str]
) -> NotificationsConfig:
    """The first reply route whose ``match`` the labels meet, else the environment's channels."""
    for route in config.replies:
        if all(labels.get(k) == v for k, v in route.match.items()):
            return route.notifications
    return env.notifications


def default_sender(environ: Mapping[str, str]) -> Sender:
    def send(section: NotificationsConfig, message: Notification) -> Sequence[Delivery]:
        return notify_all(notifiers_for(section, environ), message)

    return send


@dataclass(frozen=True)
class Outcome:
    """What one piece of work did: the run (if any) and the deliveries of its reply."""

    run: RunResult | None
    message: Notification
    deliveries: tuple[Delivery, ...]


class Executor:
    """Does :class:`Work`: the run (unless the journal says it ran), then the reply."""

    def __init__(
        self,
        env: Environment,
        config: ResponderConfig,
        *,
        runner: Runner,
        sender: Sender,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.env = env
        self.config = config
        self._runner = runner
        self._sender = sender
        self._clock = clock

    def _run(self, work: Work, mapping: RunbookMapping, end: datetime, on_ran: OnRan) -> RunResult:
        if work.ran is not None:  # the journal says it ran before a restart: never twice
            return RunResult.from_dict(work.ran)
        stem = Path(mapping.notebook).name.removesuffix(".ipynb")
        try:
            params = parameters_for(mapping, work.group, lead_s=self.config.lead_s, end=end)
            result = self._runner(mapping.notebook, params)
        except WorkbookError as exc:
            result = RunResult(stem, Status.ERROR, f"The runbook could not run: {exc}", "")
        on_ran(work.id, result)
        return result

    def do(self, work: Work, on_ran: OnRan) -> Outcome:
        """Run (unless ``work.ran``), tell ``on_ran`` (the journal), reply."""
        group = work.group
        labels = common(group, "labels")
        alertname = labels.get("alertname") or "alert"
        mapping = runbook_for(self.config, alertname)
        ident = incident_id(work.episode.group_key, work.episode.opened_at, alertname)
        firing = work.kind == "firing"
        end = self._clock() if firing else (_ends_at(group) or self._clock())
        run = self._run(work, mapping, end, on_ran) if mapping is not None else None
        message = self._message(work, alertname, labels, run, ident, end)
        deliveries = tuple(self._sender(reply_route(self.config, self.env, labels), message))
        return Outcome(run, message, deliveries)

    def _message(
        self,
        work: Work,
        alertname: str,
        labels: Mapping[str, str],
        run: RunResult | None,
        ident: str,
        end: datetime,
    ) -> Notification:
        annotations = common(work.group, "annotations")
        lines = [annotations["summary"]] if annotations.get("summary") else []
        count = len(work.group["alerts"])
        lines.append(f"{count} alert{'s' if count > 1 else ''} in the group; incident {ident}")
        fields: list[tuple[str, str]] = [
            (k, labels[k]) for k in ("severity", "job", "instance") if labels.get(k)
        ]
        if work.kind == "firing":
            if run is None:
                status, headline = Status.UNKNOWN, f"No runbook is mapped to {alertname}."
            else:
                status, headline = run.status, run.headline
                lines.insert(0, f"Runbook {run.notebook}: {run.status.value}")
            resolved = False
        else:
            duration = (end - _starts_at(work.group)).total_seconds()
            fields.append(("duration", format_duration(max(duration, 0.0))))
            status = run.status if run is not None else Status.OK
            headline = f"Resolved after {format_duration(max(duration, 0.0))}."
            if run is not None:
                headline += f" Over the whole incident: {run.headline}"
            resolved = True
        return Notification(
            title=f"{alertname} on {self.env.name}",
            status=status,
            headline=headline,
            summary="\n".join(lines),
            fields=tuple(fields),
            report_url=run.report_url if run is not None else "",
            dedup_key=f"sreworkbook:respond:{ident}",
            resolved=resolved,
            source=self.env.name,
            details={"incident": ident, "kind": work.kind, "run": run.to_dict() if run else {}},
        )
