"""The demo API's Prometheus metrics, in a registry of its own (never the global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from sreworkbook.sandbox.model import (
    CLS_BUCKETS,
    COMPONENTS,
    DB_BUCKETS,
    HTTP_BUCKETS,
    INP_BUCKETS,
    LCP_BUCKETS,
)

__all__ = ["ApiMetrics", "build_metrics"]


@dataclass(frozen=True)
class ApiMetrics:
    """Every metric the demo API exposes on ``/metrics``, with the registry holding them."""

    registry: CollectorRegistry
    http: Histogram
    db: Histogram
    db_failures: Counter
    memory: Gauge
    cpu: Gauge
    active_users: Gauge
    lcp: Histogram
    inp: Histogram
    cls: Histogram
    component_up: Gauge

    def set_component(self, component: str, up: bool) -> None:
        self.component_up.labels(component=component).set(1 if up else 0)


def build_metrics() -> ApiMetrics:
    """A fresh registry with the TradeAI metric families and the process collector."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    http = Histogram(
        "http_request_duration_seconds",
        "Duration of HTTP requests in seconds",
        ["method", "route", "status_code"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )
    db = Histogram(
        "db_query_duration_seconds",
        "Duration of database queries in seconds",
        ["operation", "collection"],
        buckets=DB_BUCKETS,
        registry=registry,
    )

    def vital(name: str, help_text: str, buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, help_text, ["page"], buckets=buckets, registry=registry)

    metrics = ApiMetrics(
        registry=registry,
        http=http,
        db=db,
        db_failures=Counter(
            "db_connection_failures", "Failed database connection attempts", registry=registry
        ),
        memory=Gauge(
            "system_memory_usage_percent", "System memory in use, percent", registry=registry
        ),
        cpu=Gauge("system_cpu_usage_percent", "System CPU in use, percent", registry=registry),
        active_users=Gauge("active_users", "Users active in the last 5 minutes", registry=registry),
        lcp=vital("web_vitals_lcp_seconds", "Largest Contentful Paint in seconds", LCP_BUCKETS),
        inp=vital("web_vitals_inp_seconds", "Interaction to Next Paint in seconds", INP_BUCKETS),
        cls=vital("web_vitals_cls", "Cumulative Layout Shift (unitless)", CLS_BUCKETS),
        component_up=Gauge(
            "tradeai_component_up",
            "Whether a dependency answers (1) or not (0)",
            ["component"],
            registry=registry,
        ),
    )
    for component in COMPONENTS:
        metrics.set_component(component, False)
    return metrics
