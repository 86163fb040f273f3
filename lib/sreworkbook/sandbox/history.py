"""Generate the sandbox's metric history: weeks of TradeAI traffic with planted incidents.

Pure and deterministic: :func:`generate` turns a :class:`HistorySpec` into arrays of samples
(one per step) for the same metric families the demo API exposes. Counters and histograms are
cumulative and reset when the process restarts at the end of the memory leak. Writing the
result as OpenMetrics is :mod:`sreworkbook.sandbox.openmetrics`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from sreworkbook.known_incidents import Incident
from sreworkbook.sandbox.buckets import (
    BoolArray,
    FloatArray,
    IntArray,
    calibrate_median,
    draw_buckets,
)
from sreworkbook.sandbox.incidents import (
    LEAK_FROM_PCT,
    LEAK_PEAK_PCT,
    anchor_for,
    incidents_for,
    ramp_start,
)
from sreworkbook.sandbox.model import (
    BASE_ERROR_RATIO,
    BASE_RPS,
    CLS_BUCKETS,
    COMPONENTS,
    DB_BUCKETS,
    DB_OPS,
    HTTP_BUCKETS,
    INP_BUCKETS,
    LCP_BUCKETS,
    PAGES,
    ROUTES,
    load_factor,
)

__all__ = ["GENERATOR_VERSION", "Family", "History", "HistorySpec", "Series", "generate"]

#: Bump when the generated samples change, so cached history is rebuilt.
GENERATOR_VERSION = 3

#: What the planted incidents aim at (checked by the tests against the generated samples).
SPIKE_ERROR_RATIO = 0.16
REGRESSION_P95_S = 3.5
DB_SLOW_P95_S = 1.5
_HISTORY_LAG_S = 120
_RSS_LIMIT_BYTES = 1.5 * 2**30


@dataclass(frozen=True)
class HistorySpec:
    """Which history to generate: labels, time range ``[start, end]`` every ``step`` seconds."""

    job: str
    instance: str
    start: int
    end: int
    step: int
    anchor: int
    seed: int = 20_251_110

    @classmethod
    def ending_now(
        cls, now: datetime, *, job: str, instance: str, days: int, step: int
    ) -> HistorySpec:
        """``days`` of history ending a couple of minutes before ``now`` (an aware datetime)."""
        end = (int(now.timestamp()) - _HISTORY_LAG_S) // step * step
        return cls(job, instance, end - days * 86_400 + step, end, step, anchor_for(now))

    def times(self) -> IntArray:
        return np.arange(self.start, self.end + 1, self.step, dtype=np.int64)

    def key(self) -> dict[str, object]:
        """What identifies this history in a cache stamp (``end`` varies within a day)."""
        return {
            "version": GENERATOR_VERSION,
            "job": self.job,
            "instance": self.instance,
            "days": round((self.end - self.start + self.step) / 86_400, 6),
            "step": self.step,
            "anchor": self.anchor,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Series:
    """One time series: sample name, labels (without job/instance) and a value per step.

    ``scraped`` series come from the target, so they have no sample where the scrape failed;
    ``up`` is recorded by Prometheus itself and has one at every step.
    """

    name: str
    labels: tuple[tuple[str, str], ...]
    values: FloatArray
    integer: bool = False
    scraped: bool = True


@dataclass(frozen=True)
class Family:
    """A metric family as OpenMetrics declares it (counters without ``_total``)."""

    name: str
    type: str
    help: str
    series: list[Series] = field(default_factory=list)


@dataclass(frozen=True)
class History:
    """Generated samples. ``present[i]`` is False where the scrape failed (process restart)."""

    spec: HistorySpec
    times: IntArray
    present: BoolArray
    families: tuple[Family, ...]
    incidents: tuple[Incident, ...]

    def series(self, name: str, **labels: str) -> Series:
        """The one series called ``name`` whose labels include ``labels``."""
        found = [
            s
            for f in self.families
            for s in f.series
            if s.name == name and labels.items() <= dict(s.labels).items()
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} series match {name}{labels}")
        return found[0]

    def window(self, incident: Incident) -> BoolArray:
        """Which steps fall inside ``incident`` (start inclusive, end exclusive)."""
        return np.asarray((self.times >= incident.start_s) & (self.times < incident.end_s))


class _Builder:
    """Holds the shared state of one generation run: times, load, masks, random source."""

    def __init__(self, spec: HistorySpec) -> None:
        self.spec = spec
        self.times = spec.times()
        self.n = len(self.times)
        self.rng = np.random.default_rng([spec.seed, spec.anchor // 86_400, spec.step])
        cycle = np.array([load_factor(float(t)) for t in self.times])
        self.load = cycle * self.rng.lognormal(0.0, 0.06, self.n)
        self.incidents = tuple(incidents_for(spec.anchor, start=spec.start, end=spec.end))
        self.present = np.ones(self.n, dtype=np.bool_)
        self.restart: int | None = None
        for incident in self.incidents:
            if incident.kind == "memory":
                self.restart = int(np.searchsorted(self.times, incident.end_s))
                self.present[self.restart] = False

    def mask(self, kind: str) -> BoolArray:
        hit = np.zeros(self.n, dtype=np.bool_)
        for incident in self.incidents:
            if incident.kind == kind:
                hit |= (self.times >= incident.start_s) & (self.times < incident.end_s)
        return hit

    def cumulative(self, per_step: FloatArray | IntArray) -> FloatArray:
        """Running totals of ``per_step`` along time, reset after the restart."""
        total = np.cumsum(per_step, axis=0, dtype=np.float64)
        if self.restart is not None:
            total[self.restart :] -= total[self.restart]
        return total

    def histogram(
        self,
        family: Family,
        labels: tuple[tuple[str, str], ...],
        bounds: Sequence[float],
        counts: IntArray,
        median: FloatArray,
        sigma: FloatArray,
    ) -> None:
        by_le, sums = draw_buckets(self.rng, counts, bounds, median, sigma)
        cum = self.cumulative(by_le)
        base = family.name
        for j, le in enumerate([*(repr(float(b)) for b in bounds), "+Inf"]):
            family.series.append(Series(f"{base}_bucket", (*labels, ("le", le)), cum[:, j], True))
        family.series.append(Series(f"{base}_count", labels, cum[:, -1], True))
        family.series.append(Series(f"{base}_sum", labels, np.round(self.cumulative(sums), 4)))

    def memory_pct(self) -> FloatArray:
        t = self.times.astype(np.float64)
        baseline = 57 + 4 * self.load + 1.5 * np.sin(t / 5_400) + self.rng.normal(0, 0.6, self.n)
        for incident in self.incidents:
            if incident.kind != "memory":
                continue
            ramp0 = ramp_start(incident)
            ramp = (t >= ramp0) & (t < incident.end_s)
            slope = (LEAK_PEAK_PCT - LEAK_FROM_PCT) / (incident.end_s - ramp0)
            leak = LEAK_FROM_PCT + slope * (t - ramp0) + self.rng.normal(0, 0.1, self.n)
            baseline = np.where(ramp, leak, baseline)
            after = (t >= incident.end_s) & (t < incident.end_s + 1_800)
            recovering = 42 + (baseline - 42) * (t - incident.end_s) / 1_800
            baseline = np.where(after, recovering, baseline)
        return np.asarray(np.round(np.clip(baseline, 5, 99.5), 2), dtype=np.float64)


def _labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(pairs.items())


def _http(b: _Builder, hot: BoolArray) -> tuple[Family, IntArray]:
    """Request histograms per route and status; also the database calls the requests made."""
    slow_db, spike, regression = b.mask("database"), b.mask("error_rate"), b.mask("latency")
    regression_median = calibrate_median(0.95, REGRESSION_P95_S, 0.45, HTTP_BUCKETS)
    family = Family(
        "http_request_duration_seconds", "histogram", "Duration of HTTP requests in seconds"
    )
    db_calls = np.zeros((len(DB_OPS), b.n), dtype=np.int64)
    for route in ROUTES:
        counts = b.rng.poisson(BASE_RPS * route.share * b.load * b.spec.step).astype(np.int64)
        p_err = np.where(hot, 0.01, BASE_ERROR_RATIO)
        median = route.median_s * (1 + 0.25 * b.load) * np.where(hot, 1.4, 1.0)
        if route.db:
            p_err = np.where(slow_db, 0.02, p_err)
            median = np.where(slow_db, median * 6, median)
        if route.path == "/api/trades":
            p_err = np.where(spike, SPIKE_ERROR_RATIO, p_err)
        median = np.where(regression, regression_median, median)
        sigma = np.where(regression, 0.45, route.sigma)
        errors = b.rng.binomial(counts, p_err).astype(np.int64)
        for status, n, med, sig in (
            ("200", counts - errors, median, sigma),
            ("500", errors, median * 0.7, np.full(b.n, 0.9)),
        ):
            labels = _labels(method=route.method, route=route.path, status_code=status)
            b.histogram(family, labels, HTTP_BUCKETS, n, med, sig)
        for op_index, per_request in route.db:
            whole, fraction = int(per_request), per_request % 1.0
            db_calls[op_index] += counts * whole
            if fraction:
                db_calls[op_index] += b.rng.binomial(counts, fraction)
    return family, db_calls


def _database(b: _Builder, db_calls: IntArray) -> tuple[Family, Family]:
    """Query histograms per operation and collection, and connection failures."""
    slow_db = b.mask("database")
    slow_median = calibrate_median(0.95, DB_SLOW_P95_S, 0.5, DB_BUCKETS)
    family = Family(
        "db_query_duration_seconds", "histogram", "Duration of database queries in seconds"
    )
    for op_index, op in enumerate(DB_OPS):
        median = np.where(slow_db, slow_median, op.median_s * (1 + 0.2 * b.load))
        sigma = np.where(slow_db, 0.5, op.sigma)
        labels = _labels(operation=op.operation, collection=op.collection)
        b.histogram(family, labels, DB_BUCKETS, db_calls[op_index], median, sigma)
    per_step = np.where(slow_db, 6.0 / 60, 0.2 / 3_600) * b.spec.step
    failures = b.cumulative(b.rng.poisson(per_step))
    counter = Family("db_connection_failures", "counter", "Failed database connection attempts")
    counter.series.append(Series("db_connection_failures_total", (), failures))
    return family, counter


def _web_vitals(b: _Builder) -> list[Family]:
    """Core Web Vitals per page; pages load slower during the latency regression."""
    regression = b.mask("latency")
    families = []
    for name, bounds, typical, sigma, help_text in (
        ("web_vitals_lcp_seconds", LCP_BUCKETS, 1.5, 0.45, "Largest Contentful Paint in seconds"),
        ("web_vitals_inp_seconds", INP_BUCKETS, 0.11, 0.6, "Interaction to Next Paint in seconds"),
        ("web_vitals_cls", CLS_BUCKETS, 0.035, 0.9, "Cumulative Layout Shift (unitless)"),
    ):
        family = Family(name, "histogram", help_text)
        slower = 1.0 if name == "web_vitals_cls" else 1.8
        for page in PAGES:
            rate = 0.15 * BASE_RPS * b.load * b.spec.step / len(PAGES)
            views = b.rng.poisson(rate).astype(np.int64)
            median = typical * np.where(regression, slower, 1.0) * (1 + 0.1 * b.load)
            b.histogram(family, _labels(page=page), bounds, views, median, np.full(b.n, sigma))
        families.append(family)
    return families


def _gauge(name: str, help_text: str, values: FloatArray, kind: str = "gauge") -> Family:
    sample = f"{name}_total" if kind == "counter" else name
    return Family(name, kind, help_text, [Series(sample, (), values, scraped=name != "up")])


def _process(b: _Builder, memory: FloatArray, hot: BoolArray) -> list[Family]:
    """Resource gauges, the process collector's series, component and scrape health."""
    noise = b.rng.normal(0, 2.5, b.n)
    slow_db = b.mask("database")
    cpu = np.clip(12 + 38 * b.load + np.where(hot, 25, 0) + np.where(slow_db, 8, 0) + noise, 1, 100)
    users = np.round(180 * b.load + b.rng.normal(0, 6, b.n)).clip(0)
    start_time = np.full(b.n, float(b.spec.start - 9 * 86_400 + 3_217))
    if b.restart is not None:
        start_time[b.restart :] = float(b.times[b.restart])
    components = Family(
        "tradeai_component_up", "gauge", "Whether a dependency answers (1) or not (0)"
    )
    for component in COMPONENTS:
        labels = _labels(component=component)
        components.series.append(Series("tradeai_component_up", labels, np.ones(b.n)))
    return [
        _gauge("system_memory_usage_percent", "System memory in use, percent", memory),
        _gauge("system_cpu_usage_percent", "System CPU in use, percent", cpu.round(2)),
        _gauge("active_users", "Users active in the last 5 minutes", users),
        components,
        _gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            np.round(memory / 100 * _RSS_LIMIT_BYTES),
        ),
        _gauge(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            np.round(b.cumulative(cpu / 100 * b.spec.step), 2),
            "counter",
        ),
        _gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            start_time,
        ),
        _gauge(
            "up", "Whether the last scrape of the target succeeded", np.where(b.present, 1.0, 0.0)
        ),
    ]


def generate(spec: HistorySpec) -> History:
    """Generate the history described by ``spec``. Same spec, same samples."""
    b = _Builder(spec)
    memory = b.memory_pct()
    hot = memory > 90
    http, db_calls = _http(b, hot)
    db, failures = _database(b, db_calls)
    families = (http, db, failures, *_web_vitals(b), *_process(b, memory, hot))
    return History(spec, b.times, b.present, families, b.incidents)
