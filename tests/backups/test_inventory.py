"""Inventory (local folder, S3 on a real moto server) and the freshness/retention/size policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path

import pytest

from sreworkbook.backups import inventory as inventory_module
from sreworkbook.backups.inventory import (
    BackupObject,
    Tier,
    collect,
    evaluate_policy,
    list_local,
    list_s3,
    parse_timestamp,
)
from sreworkbook.config import BackupsConfig
from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.results import Status

from .conftest import S3Server

NOW = dt.datetime(2025, 11, 10, 9, 0, tzinfo=dt.UTC)


def name(day: dt.date, ext: str = "archive.gz") -> str:
    return f"tradeai_backup_{day:%Y%m%d}_020000.{ext}"


def nightly(
    tier: Tier, days: int, *, size: int = 1_000_000, skip: Collection[int] = ()
) -> list[BackupObject]:
    """One backup at 02:00 for each of the last ``days`` nights (0 = this morning)."""
    out = []
    for back in range(days):
        if back in skip:
            continue
        day = NOW.date() - dt.timedelta(days=back)
        stamp = dt.datetime.combine(day, dt.time(2, 0), tzinfo=dt.UTC)
        out.append(BackupObject(name(day), tier, size, stamp, f"{tier}/{name(day)}"))
    return out


def titles(report: inventory_module.PolicyReport) -> list[str]:
    return [f.title for f in report.findings]


def test_public_names() -> None:
    assert {"BackupObject", "evaluate_policy", "list_local", "list_s3", "collect"} <= set(
        inventory_module.__all__
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tradeai_backup_20251110_020000.tar.gz", dt.datetime(2025, 11, 10, 2, tzinfo=dt.UTC)),
        ("tradeai_backup_20251110_020000.archive.gz", dt.datetime(2025, 11, 10, 2, tzinfo=dt.UTC)),
        ("tradeai_backup_20251110_020000.archive.gz.manifest.json", None),
        ("tradeai_backup_20251310_020000.archive.gz", None),  # month 13
        ("other.gz", None),
    ],
)
def test_parse_timestamp_default_pattern(text: str, expected: dt.datetime | None) -> None:
    assert parse_timestamp(text, BackupsConfig().name_pattern) == expected


def test_parse_timestamp_custom_pattern() -> None:
    assert parse_timestamp("db-2025-11-10.gz", r"db-(\d{4})-(\d{2})-(\d{2})\.gz") == dt.datetime(
        2025, 11, 10, tzinfo=dt.UTC
    )


def test_healthy_two_tier_inventory_is_ok() -> None:
    report = evaluate_policy(
        nightly(Tier.LOCAL, 7) + nightly(Tier.S3, 30), now=NOW, tiers={Tier.LOCAL, Tier.S3}
    )
    assert report.status is Status.OK, report.findings
    assert report.newest is not None and report.age_h == pytest.approx(7.0)
    assert report.metrics == {"rpo_h": 24.0, "backup_age_h": 7.0}


def test_stale_backups_break_the_rpo() -> None:
    report = evaluate_policy(nightly(Tier.S3, 30, skip={0, 1}), now=NOW)
    assert report.status is Status.CRIT
    assert report.age_h == pytest.approx(55.0)
    assert titles(report)[0] == "newest good backup is 55.0 h old"


def test_bad_newest_backup_does_not_count_as_fresh() -> None:
    objects = nightly(Tier.S3, 5)
    report = evaluate_policy(objects, now=NOW, bad={objects[0].name})
    assert report.status is Status.CRIT and report.age_h == pytest.approx(31.0)


def test_no_backup_at_all_is_crit() -> None:
    report = evaluate_policy([], now=NOW, tiers={Tier.LOCAL})
    assert report.status is Status.CRIT
    assert "no good backup found" in titles(report) and "no backups in local" in titles(report)


def test_missing_nights_too_old_copies_and_tier_gaps() -> None:
    local = nightly(Tier.LOCAL, 10, skip={3})  # kept 10 days (retention 7), night 3 missing
    s3 = nightly(Tier.S3, 30, skip={3, 12, 2})  # nights 3, 12 missing; night 2 not copied
    report = evaluate_policy(local + s3, now=NOW, tiers={Tier.LOCAL, Tier.S3})
    assert report.status is Status.WARN
    day = lambda back: NOW.date() - dt.timedelta(days=back)  # noqa: E731
    assert report.missing_days[Tier.LOCAL] == (day(3),)
    assert report.missing_days[Tier.S3] == (day(12), day(3), day(2))
    # retention 7 days + 1 day of grace: the copies of nights 8 (8 d 7 h old) and 9
    assert {o.name for o in report.too_old} == {name(day(8)), name(day(9))}
    assert [(o.name, t) for o, t in report.missing_in_tier] == [(name(day(2)), Tier.S3)]
    assert "2 copies in local kept beyond 7 days" in titles(report)
    assert "1 backup(s) missing in s3" in titles(report)


def test_missing_days_start_at_the_first_backup() -> None:
    report = evaluate_policy(nightly(Tier.S3, 4), now=NOW)
    assert report.missing_days[Tier.S3] == ()


@pytest.mark.parametrize(
    ("factor", "flagged"), [(0.5, True), (0.75, False), (1.35, True), (1.25, False)]
)
def test_size_anomalies_against_the_median_of_the_previous_seven(
    factor: float, flagged: bool
) -> None:
    objects = nightly(Tier.S3, 10)
    newest = objects[0]
    objects[0] = BackupObject(newest.name, newest.tier, int(newest.size * factor), newest.timestamp)
    report = evaluate_policy(objects, now=NOW)
    assert bool(report.size_anomalies) is flagged
    if flagged:
        (anomaly,) = report.size_anomalies
        assert anomaly.backup.name == newest.name and anomaly.median == 1_000_000
        assert anomaly.change == pytest.approx(factor - 1)


def test_list_local_ignores_manifests_partials_and_strangers(tmp_path: Path) -> None:
    for day in (NOW.date(), NOW.date() - dt.timedelta(days=1)):
        (tmp_path / name(day)).write_bytes(b"x" * 10)
    (tmp_path / (name(NOW.date()) + ".manifest.json")).write_text("{}")
    (tmp_path / (name(NOW.date()) + ".partial")).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hi")
    inventory = list_local(tmp_path, pattern=BackupsConfig().name_pattern)
    assert [o.timestamp.day for o in inventory.objects] == [9, 10]
    assert all(o.tier is Tier.LOCAL and o.size == 10 for o in inventory.objects)
    assert [Path(p).name for p in inventory.ignored] == ["notes.txt"]
    with pytest.raises(MissingFileError):
        list_local(tmp_path / "nope")
    with pytest.raises(ParameterError):
        list_local(tmp_path, pattern="(")


@pytest.mark.integration
def test_s3_listing_on_a_real_endpoint(s3_server: S3Server, s3_env: None, tmp_path: Path) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="tradeai-backups")
    for back in range(40):  # 40 nights under a prefix, and names that are not backups
        day = NOW.date() - dt.timedelta(days=back)
        client.put_object(
            Bucket="tradeai-backups", Key=f"mongodb/{name(day)}", Body=b"y" * (100 + back)
        )
    client.put_object(Bucket="tradeai-backups", Key="mongodb/readme.txt", Body=b"")
    client.put_object(Bucket="tradeai-backups", Key=f"other/{name(NOW.date())}", Body=b"")
    inventory = list_s3("tradeai-backups", "mongodb/", client=client)
    assert len(inventory.objects) == 40
    assert inventory.objects[-1].location == f"s3://tradeai-backups/mongodb/{name(NOW.date())}"
    assert inventory.objects[-1].size == 100
    assert inventory.ignored == ("s3://tradeai-backups/mongodb/readme.txt",)

    # collect(): both tiers from a config, the S3 client built from the standard chain
    local = tmp_path / "local"
    local.mkdir()
    (local / name(NOW.date())).write_bytes(b"z")
    config = BackupsConfig.model_validate(
        {
            "local_dir": "local",
            "s3": {
                "bucket": "tradeai-backups",
                "prefix": "mongodb/",
                "endpoint_url": s3_server.endpoint_url,
            },
        }
    )
    found, problems, tiers = collect(config, root=tmp_path)
    assert problems == () and tiers == {Tier.LOCAL, Tier.S3}
    assert len(found.tier(Tier.S3)) == 40 and len(found.tier(Tier.LOCAL)) == 1
    report = evaluate_policy(found.objects, now=NOW, tiers=tiers)
    assert report.status is Status.WARN  # S3 keeps 9 copies too long; 6 S3 copies lack a local twin
    assert any("kept beyond 30 days" in t for t in titles(report))


@pytest.mark.integration
def test_a_missing_bucket_is_a_crit_finding(
    s3_server: S3Server, s3_env: None, tmp_path: Path
) -> None:
    config = BackupsConfig.model_validate(
        {"s3": {"bucket": "no-such-bucket", "endpoint_url": s3_server.endpoint_url}}
    )
    _found, problems, _tiers = collect(config, root=tmp_path)
    assert [p.severity for p in problems] == [Status.CRIT]
