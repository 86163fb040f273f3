"""The index's numbers: one streaming pass over the ledger, folded into a small view per job.

A job is a notebook on an environment. Memory stays bounded by the number of jobs, whatever
the ledger's length: per job the pass keeps its latest run, the run current 24 h earlier, the
newest ``reports_per_job`` runs, one cell per day of the grid and one value per day and key
metric for the trends. Days are UTC days of a run's start, like ``runs/<date>/``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sreworkbook.index.ledger_lines import RunLike
from sreworkbook.results import Status

__all__ = [
    "DEFAULT_STALE_AFTER",
    "KEY_METRICS",
    "DayCell",
    "Expectation",
    "Expectations",
    "IndexView",
    "JobChange",
    "JobView",
    "KeyMetric",
    "RunRef",
    "Trend",
    "summarise",
]

#: Without a schedule, a job whose latest run is older than this is stale.
DEFAULT_STALE_AFTER = timedelta(hours=26)
#: What "since yesterday" compares with.
YESTERDAY = timedelta(hours=24)


@dataclass(frozen=True)
class KeyMetric:
    """A metric worth a trend line; the day's *worst* value is drawn."""

    name: str
    label: str
    higher_is_better: bool = False


KEY_METRICS: tuple[KeyMetric, ...] = (
    KeyMetric("availability", "availability", higher_is_better=True),
    KeyMetric("p95_ms", "p95 latency"),
    KeyMetric("backup_age_h", "backup age"),
    KeyMetric("rto_s", "restore time (RTO)"),
    KeyMetric("pages_per_week_after", "pages / week"),
)


@dataclass(frozen=True)
class Expectation:
    """What the schedule says of a job: its name, cron and the time between two due times."""

    name: str
    notebook: str
    env: str
    cron: str
    interval: timedelta | None = None

    @property
    def stale_after(self) -> timedelta:
        """Twice the interval, or :data:`DEFAULT_STALE_AFTER` when it is not known."""
        return 2 * self.interval if self.interval else DEFAULT_STALE_AFTER


@dataclass(frozen=True)
class Expectations:
    """What the schedule expects of each job (none: a job is stale after 26 h), and a note for
    readers (why the schedule could not be read, when it could not)."""

    jobs: tuple[Expectation, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class RunRef:
    """Enough of a run to show and link it; ``report`` is empty when it has none (timeouts)."""

    run_id: str
    status: Status
    started: datetime
    finished: datetime
    headline: str
    report: str


@dataclass(frozen=True)
class DayCell:
    """One day of a job in the grid: the worst status, the run count and the latest report."""

    day: date
    status: Status | None = None
    runs: int = 0
    report: str = ""
    headline: str = ""


@dataclass(frozen=True)
class Trend:
    """A key metric over the trend window: one value per day (``None``: no value that day)."""

    metric: KeyMetric
    values: tuple[float | None, ...]
    last: float


@dataclass(frozen=True)
class JobChange:
    """How a job differs from 24 h earlier; ``before`` is ``None`` for a job new since then."""

    before: Status | None
    after: Status
    new: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobView:
    """Everything the index shows of one job."""

    notebook: str
    env: str
    expectation: Expectation | None
    latest: RunRef
    runs: int
    cells: tuple[DayCell, ...]
    trends: tuple[Trend, ...]
    recent: tuple[RunRef, ...]  # newest first
    last_good: datetime | None
    stale: bool
    change: JobChange | None

    @property
    def failing(self) -> bool:
        """CRIT, UNKNOWN or ERROR: the statuses a run exits non-zero for."""
        return self.latest.status.exit_code != 0

    @property
    def stale_after(self) -> timedelta:
        """How long without a run makes this job stale."""
        return self.expectation.stale_after if self.expectation else DEFAULT_STALE_AFTER

    @property
    def name(self) -> str:
        return self.expectation.name if self.expectation else f"{self.notebook} · {self.env}"

    @property
    def anchor(self) -> str:
        return f"job-{self.notebook}--{self.env}"


@dataclass(frozen=True)
class IndexView:
    """The whole page's data: jobs failing first, then stale, then the rest."""

    now: datetime
    days: tuple[date, ...]
    trend_days: tuple[date, ...]
    jobs: tuple[JobView, ...]
    never_run: tuple[Expectation, ...]
    total_runs: int
    last_finished: datetime | None
    unreadable: int = 0


def _when(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _worse(a: Status | None, b: Status) -> Status:
    return b if a is None or b.rank > a.rank else a


class _Cell:
    """The running fold of one job's day."""

    __slots__ = ("headline", "report", "report_at", "runs", "worst")

    def __init__(self) -> None:
        self.worst: Status | None = None
        self.runs = 0
        self.report_at: datetime | None = None
        self.report = ""
        self.headline = ""


class _Job:
    """The running fold of one job's runs."""

    __slots__ = (
        "before",
        "before_titles",
        "cells",
        "count",
        "first_finished",
        "last_good",
        "latest",
        "latest_metrics",
        "latest_titles",
        "recent",
        "seq",
        "trends",
    )

    def __init__(self) -> None:
        self.count = 0
        self.seq = 0
        self.latest: RunRef | None = None
        self.latest_titles: tuple[str, ...] = ()
        self.latest_metrics: dict[str, float] = {}
        self.before: RunRef | None = None
        self.before_titles: tuple[str, ...] = ()
        self.first_finished: datetime | None = None
        self.last_good: datetime | None = None
        self.recent: list[tuple[datetime, int, RunRef]] = []
        self.cells: dict[date, _Cell] = {}
        self.trends: dict[str, dict[date, float]] = {}


@dataclass(frozen=True)
class _Window:
    now: datetime
    first_day: date
    trend_first: date
    cutoff: datetime
    keep: int
    metrics: tuple[KeyMetric, ...]


def _fold(job: _Job, run: RunLike, ref: RunRef, w: _Window) -> None:
    job.count += 1
    job.seq += 1
    titles = tuple(f.title for f in run.findings)
    if job.latest is None or ref.finished >= job.latest.finished:
        job.latest, job.latest_titles, job.latest_metrics = ref, titles, dict(run.metrics)
    if ref.finished <= w.cutoff and (job.before is None or ref.finished >= job.before.finished):
        job.before, job.before_titles = ref, titles
    if job.first_finished is None or ref.finished < job.first_finished:
        job.first_finished = ref.finished
    if ref.status.exit_code == 0 and (job.last_good is None or ref.finished > job.last_good):
        job.last_good = ref.finished
    entry = (ref.finished, job.seq, ref)
    if len(job.recent) < w.keep:
        heapq.heappush(job.recent, entry)
    elif entry > job.recent[0]:
        heapq.heapreplace(job.recent, entry)
    day = ref.started.date()
    if day > w.now.date():
        return
    if day >= w.first_day:
        cell = job.cells.get(day)
        if cell is None:
            cell = job.cells[day] = _Cell()
        cell.worst = _worse(cell.worst, ref.status)
        cell.runs += 1
        if ref.report and (cell.report_at is None or ref.finished >= cell.report_at):
            cell.report_at, cell.report, cell.headline = ref.finished, ref.report, ref.headline
    if day >= w.trend_first:
        for metric in w.metrics:
            value = run.metrics.get(metric.name)
            if value is None:
                continue
            series = job.trends.setdefault(metric.name, {})
            old = series.get(day)
            if old is None:
                series[day] = value
            elif metric.higher_is_better:
                series[day] = min(old, value)
            else:
                series[day] = max(old, value)


def _view(
    key: tuple[str, str],
    job: _Job,
    w: _Window,
    days: tuple[date, ...],
    trend_days: tuple[date, ...],
    expectation: Expectation | None,
) -> JobView:
    latest = job.latest
    assert latest is not None  # a job exists once it has a run
    cells = []
    for day in days:
        raw = job.cells.get(day)
        cells.append(
            DayCell(day, raw.worst, raw.runs, raw.report, raw.headline) if raw else DayCell(day)
        )
    trends = tuple(
        Trend(m, tuple(job.trends[m.name].get(d) for d in trend_days), _last(job, m))
        for m in w.metrics
        if m.name in job.trends
    )
    stale_after = expectation.stale_after if expectation else DEFAULT_STALE_AFTER
    change: JobChange | None = None  # None: as it was 24 h ago
    if job.before is None:
        if job.first_finished is not None and job.first_finished > w.cutoff:
            change = JobChange(None, latest.status, new=job.latest_titles)
    elif job.before is not latest:
        new = tuple(t for t in job.latest_titles if t not in job.before_titles)
        gone = tuple(t for t in job.before_titles if t not in job.latest_titles)
        if new or gone or job.before.status is not latest.status:
            change = JobChange(job.before.status, latest.status, new, gone)
    return JobView(
        notebook=key[0],
        env=key[1],
        expectation=expectation,
        latest=latest,
        runs=job.count,
        cells=tuple(cells),
        trends=trends,
        recent=tuple(ref for _, _, ref in sorted(job.recent, reverse=True)),
        last_good=job.last_good,
        stale=w.now - latest.finished > stale_after,
        change=change,
    )


def _last(job: _Job, metric: KeyMetric) -> float:
    if metric.name in job.latest_metrics:
        return job.latest_metrics[metric.name]
    series = job.trends[metric.name]
    return series[max(series)]


def _match(expectations: Sequence[Expectation], notebook: str, env: str) -> Expectation | None:
    """The scheduled job of ``notebook`` on ``env`` (a job's env may be a file name or path)."""
    names = {env, f"{env}.yaml", f"{env}.yml"}
    for item in expectations:
        if item.notebook == notebook and item.env.rsplit("/", 1)[-1] in names:
            return item
    return None


def summarise(
    runs: Iterable[RunLike],
    *,
    now: datetime,
    days: int = 14,
    trend_days: int = 30,
    reports_per_job: int = 10,
    expectations: Sequence[Expectation] = (),
    metrics: Sequence[KeyMetric] = KEY_METRICS,
) -> IndexView:
    """Fold ``runs`` (any order, read once) into the index's view as of ``now``."""
    now = now.astimezone(UTC)
    today = now.date()
    w = _Window(
        now=now,
        first_day=today - timedelta(days=days - 1),
        trend_first=today - timedelta(days=trend_days - 1),
        cutoff=now - YESTERDAY,
        keep=max(1, reports_per_job),
        metrics=tuple(metrics),
    )
    jobs: dict[tuple[str, str], _Job] = {}
    total = unreadable = 0
    last_finished: datetime | None = None
    for run in runs:
        started = _when(run.started_at)
        finished = _when(run.finished_at) or started
        if started is None or finished is None:
            unreadable += 1
            continue
        total += 1
        ref = RunRef(run.run_id, run.status, started, finished, run.headline, run.report)
        key = (run.notebook, run.env)
        job = jobs.get(key)
        if job is None:
            job = jobs[key] = _Job()
        _fold(job, run, ref, w)
        if last_finished is None or finished > last_finished:
            last_finished = finished
    day_list = tuple(w.first_day + timedelta(days=i) for i in range(days))
    trend_list = tuple(w.trend_first + timedelta(days=i) for i in range(trend_days))
    views = [
        _view(key, job, w, day_list, trend_list, _match(expectations, *key))
        for key, job in jobs.items()
    ]
    views.sort(
        key=lambda v: (0 if v.failing else 1 if v.stale else 2, -v.latest.status.rank, v.name)
    )
    seen = {v.expectation.name for v in views if v.expectation}
    return IndexView(
        now=now,
        days=day_list,
        trend_days=trend_list,
        jobs=tuple(views),
        never_run=tuple(e for e in expectations if e.name not in seen),
        total_runs=total,
        last_finished=last_finished,
        unreadable=unreadable,
    )
