"""The responder's incident records: every decision and outcome, as a page per incident.

An incident is a group's episode; its id is :func:`~sreworkbook.respond.work.incident_id`.
Each change rewrites ``outputs/incidents/<id>.json`` and its page, then the index (whose
"Incidents" section lists it). Label values appear only HTML-escaped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sreworkbook.index.incidents import FOLDER, Incident, IncidentEvent, write_incident
from sreworkbook.respond.episodes import Decision, Episode
from sreworkbook.respond.journal import Work
from sreworkbook.respond.payload import AlertGroup
from sreworkbook.respond.work import Outcome, common, incident_id
from sreworkbook.timeutil import rfc3339

__all__ = ["IncidentBook"]

log = logging.getLogger(__name__)

_DECISIONS = {
    Decision.OPEN: ("alert", "fired"),
    Decision.REOPEN: ("flap", "fired again within the dedup window (same incident, no new run)"),
    Decision.CLOSE: ("resolved", "resolved"),
    Decision.RECLOSE: ("resolved", "resolved again"),
}


def _at(epoch: float) -> str:
    return rfc3339(datetime.fromtimestamp(epoch, UTC))


class IncidentBook:
    """Keeps the incidents of one environment under an outputs folder.

    Records are written by one thread of its own, in the order they were given, so that the
    receiver answers Alertmanager without waiting for pages or the index.
    """

    def __init__(
        self,
        outputs_dir: Path,
        env_name: str,
        *,
        rebuild_index: Callable[[], object],
        clock: Callable[[], float],
    ) -> None:
        self._dir = outputs_dir
        self._env = env_name
        self._rebuild = rebuild_index
        self._clock = clock
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="incidents")

    def flush(self) -> None:
        """Wait until everything given so far is written."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _later(self, job: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                job()
            except Exception:  # a page that cannot be written is logged, never fatal
                log.exception("cannot record an incident")

        self._writer.submit(guarded)

    def _load(self, ident: str, title: str, opened_at: str) -> Incident:
        path = self._dir / FOLDER / f"{ident}.json"
        if path.is_file():
            return Incident.from_dict(json.loads(path.read_text(encoding="utf-8")))
        return Incident(ident, title, self._env, opened_at)

    def _save(self, incident: Incident) -> None:
        write_incident(self._dir, incident)
        self._rebuild()

    def decided(self, group: AlertGroup, decision: Decision, episode: Episode | None) -> None:
        """Record an alert firing, flapping or resolving (repeats are not recorded)."""
        if episode is None or decision not in _DECISIONS:
            return
        kind, verb = _DECISIONS[decision]
        title = group.alertname or "alert"
        ident = incident_id(episode.group_key, episode.opened_at, title)
        count = len(group.alerts)
        summary = next((a.annotations.get("summary", "") for a in group.alerts), "")
        text = f"{count} alert{'s' if count > 1 else ''} {verb}" + (
            f": {summary}" if summary else ""
        )
        now = _at(self._clock())

        def record() -> None:
            with self._lock:
                incident = self._load(ident, title, rfc3339(group.starts_at)).with_event(
                    IncidentEvent(now, kind, text)
                )
                if decision in (Decision.CLOSE, Decision.RECLOSE):
                    incident = _resolved(incident, group, now)
                elif decision is Decision.REOPEN:
                    incident = _reopened(incident)
                self._save(incident)

        self._later(record)

    def finished(self, work: Work, outcome: Outcome) -> None:
        """Record the run and the reply of one piece of work."""
        labels = common(work.group, "labels")
        title = labels.get("alertname") or "alert"
        ident = incident_id(work.episode.group_key, work.episode.opened_at, title)
        now = _at(self._clock())
        self._later(lambda: self._finished(work, outcome, ident, title, now))

    def _finished(self, work: Work, outcome: Outcome, ident: str, title: str, now: str) -> None:
        with self._lock:
            incident = self._load(ident, title, _at(work.episode.opened_at))
            run = outcome.run
            if run is not None:
                what = "second run over the whole incident" if work.kind == "resolved" else "run"
                incident = incident.with_event(
                    IncidentEvent(
                        now,
                        "run",
                        f"{run.notebook} ({what}): {run.headline}",
                        run.status.value,
                        run.report or run.report_url,
                    )
                )
                if work.kind == "firing" or incident.status == "UNKNOWN":
                    incident = _status(incident, run.status.value)
            sent = ", ".join(
                f"{d.notifier} {'delivered' if d.ok else 'FAILED: ' + d.detail}"
                for d in outcome.deliveries
            )
            message = outcome.message
            incident = incident.with_event(
                IncidentEvent(
                    now,
                    "reply",
                    f"{message.label}: {message.headline} → {sent or 'no channel configured'}",
                )
            )
            self._save(incident)


def _resolved(incident: Incident, group: AlertGroup, now: str) -> Incident:
    ends = group.ends_at
    return replace(incident, resolved_at=rfc3339(ends) if ends else now)


def _reopened(incident: Incident) -> Incident:
    return replace(incident, resolved_at="")


def _status(incident: Incident, status: str) -> Incident:
    return replace(incident, status=status)
