"""The backup notebook's whole question in one call: are the backups good, and do they restore?

:func:`assess_backups` lists the inventory (local folder and S3), verifies every copy (or only
the one drilled), judges the policy (freshness against the RPO with corrupt copies not counted,
retention, size anomalies), runs the restore drill and folds it all into one
:class:`BackupAssessment`: status, headline, metrics and findings, with the parts kept for the
tables and charts of :mod:`sreworkbook.backups.view`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.drill import DrillOptions, run_drill, select_backup
from sreworkbook.backups.drill_report import DrillResult
from sreworkbook.backups.engines import Engine, make_engine, open_client
from sreworkbook.backups.inventory import (
    Inventory,
    PolicyReport,
    backups_section,
    collect,
    policy_for,
)
from sreworkbook.backups.s3 import client_for
from sreworkbook.backups.verification import (
    BackupVerification,
    VerificationSummary,
    verify_inventory,
)
from sreworkbook.config import BackupsConfig, Environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.results import Finding, Status, worst

__all__ = ["BackupAssessment", "assess_backups"]


@dataclass(frozen=True)
class BackupAssessment:
    """Inventory, policy, verification and drill of one environment's backups."""

    config: BackupsConfig
    inventory: Inventory
    listing_findings: tuple[Finding, ...]
    policy: PolicyReport
    verification: VerificationSummary
    drill: DrillResult | None
    now: dt.datetime

    def findings(self) -> tuple[Finding, ...]:
        """The drill's first, then listing problems, verification and policy; last, which
        engine and tool version restored (an OK line, so that the run records it)."""
        drill = self.drill.findings if self.drill else ()
        engine = (self.drill.engine_finding(),) if self.drill and self.drill.restored else ()
        return (
            *drill,
            *self.listing_findings,
            *self.verification.findings(),
            *self.policy.findings,
            *engine,
        )

    @property
    def status(self) -> Status:
        return worst((f.severity for f in self.findings()), default=Status.OK)

    def headline(self) -> str:
        """A sentence a manager reads without the status codes, e.g. "The latest backup is
        6 hours old, verified and restored in 42 s by mongorestore; 2 more findings need a
        look, first: 1 night(s) without a backup in s3."."""
        newest, age = self.policy.newest, self.policy.age_h
        if newest is None or age is None:
            return f"No good backup was found{self._attention()}."
        rpo = self.config.rpo_hours
        late = f", older than the {rpo:g}-hour RPO" if age > rpo else ""
        how, drill = "", self.drill
        if drill is not None:
            verdict = drill.verification.verdict.value if drill.verification else "ok"
            name = drill.backup.name if drill.backup is not None else "backup"
            if verdict != "ok":
                how = f"; the drilled backup {name} is {verdict} and was not restored"
            elif drill.succeeded:
                checked = "verified and " if drill.verification is not None else ""
                how = f", {checked}{drill.summary()} by {drill.engine}"
            else:
                how = f"; the drill of {name}: {drill.summary()}"
        hours = f"{age:.0f} hour{'' if round(age) == 1 else 's'}"
        return f"The latest backup is {hours} old{late}{how}{self._attention()}."

    def _attention(self) -> str:
        """ "; N findings need a look, first: TITLE" — nothing when all is well."""
        problems = [f for f in self.findings() if f.severity not in (Status.OK, Status.SKIPPED)]
        if not problems:
            return ""
        first = max(problems, key=lambda f: f.severity.rank)
        many = len(problems) > 1
        return (
            f"; {len(problems)} finding{'s' if many else ''} need{'' if many else 's'} a look"
            f"{', the worst' if many else ''}: {first.title}"
        )

    def metrics(self) -> dict[str, float]:
        out = dict(self.policy.metrics)
        if self.drill is not None:
            out.update(self.drill.metrics())
        out["backups_verified"] = float(self.verification.verified)
        out["backups_corrupt"] = float(self.verification.corrupt)
        out["backups_listed"] = float(len(self.inventory.objects))
        return out


def _drilled_only(drill: DrillResult | None) -> VerificationSummary:
    """The drilled copy's verification, when the whole inventory was not verified."""
    if drill is None or drill.backup is None or drill.verification is None:
        return VerificationSummary(())
    report = drill.verification
    checked = BackupVerification(drill.backup, report.verdict, report.documents, report.findings)
    return VerificationSummary((checked,))


def assess_backups(
    environment: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    now: dt.datetime,
    backup: str = "",
    engine: str = "auto",
    tier: str = "auto",
    compare_live: bool = False,
    replace_scratch: bool = False,
    verify_all: bool = True,
    drill: bool = True,
    cache_dir: Path | None = None,
    client: Any = None,
    s3_client: Any = None,
    restore_engine: Engine | None = None,
) -> BackupAssessment:
    """Everything the backup drill notebook shows, for ``environment``.

    ``cache_dir`` keeps the manifests of verified S3 copies. ``client``/``s3_client``/
    ``restore_engine`` default to ones built from the environment (references resolved
    here, at connection time). Bad input (no ``backups`` or ``mongodb`` section, an unknown
    engine or backup name) raises :class:`ParameterError`.
    """
    config = backups_section(environment)

    resolve = environment.resolver(environ)

    if s3_client is None and config.s3 is not None:
        s3_client = client_for(config.s3, resolve=resolve)
    inventory, listing, tiers = collect(config, root=root, resolve=resolve, s3_client=s3_client)
    if backup:
        select_backup(inventory, name=backup, tier=tier)  # an unknown name is bad input
    result = None
    if drill:
        result = _drill(
            environment, config, inventory, environ=environ, root=root, backup=backup,
            engine=engine, tier=tier, compare_live=compare_live, replace_scratch=replace_scratch,
            client=client, s3_client=s3_client, restore_engine=restore_engine,
        )  # fmt: skip
    if verify_all:
        verification = verify_inventory(
            inventory.objects, now=now, s3_client=s3_client, cache_dir=cache_dir
        )
    else:
        verification = _drilled_only(result)
    policy = policy_for(
        config, inventory.objects, now=now, tiers=tiers, bad=verification.bad_names()
    )
    return BackupAssessment(config, inventory, listing, policy, verification, result, now)


def _drill(
    environment: Environment,
    config: BackupsConfig,
    inventory: Inventory,
    *,
    environ: Mapping[str, str],
    root: Path,
    backup: str,
    engine: str,
    tier: str,
    compare_live: bool,
    replace_scratch: bool,
    client: Any,
    s3_client: Any,
    restore_engine: Engine | None,
) -> DrillResult:
    if environment.mongodb is None:
        raise ParameterError(
            "no mongodb section: nowhere to restore to",
            source=environment.source_file,
            key="mongodb",
        )
    options = DrillOptions.from_config(
        config,
        source_database=environment.mongodb.database,
        backup=backup,
        tier=tier,
        compare_live=compare_live,
        replace_scratch=replace_scratch,
    )
    uri = environment.secret(environment.mongodb.uri, environ, key="mongodb.uri")
    owned = client is None
    if client is None:
        client = open_client(uri)
    try:
        chosen = restore_engine or make_engine(engine, client=client, uri=uri, root=root)
        return run_drill(
            inventory, client=client, engine=chosen, options=options, s3_client=s3_client
        )
    finally:
        if owned:
            client.close()
