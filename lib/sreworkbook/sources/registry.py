"""Which metrics store an environment's dashboards read: one registry of metrics backends.

``metrics.source`` names an entry (``prometheus``, ``newrelic``, ``datadog``, ``elastic``,
``files``); its factory builds a :class:`~sreworkbook.sources.panels.MetricsBackend` from
the environment, resolving the ``${ENV}`` references it needs now. An unknown name is refused
with the known ones. A new store is a module under ``sources/`` meeting the contract, a config
section, and one ``register`` in :func:`default_metrics_registry`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import requests

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.registry import Registry
from sreworkbook.sources.panels import MetricsBackend

__all__ = ["MetricsFactory", "MetricsRegistry", "backend_for", "default_metrics_registry"]

#: Builds a backend for an environment: (env, environ, session) → backend.
MetricsFactory = Callable[[Environment, Mapping[str, str], requests.Session | None], MetricsBackend]


class MetricsRegistry(Registry[MetricsFactory]):
    """Metrics backends by the name ``metrics.source`` gives them."""

    def __init__(self) -> None:
        super().__init__("metrics source", key="metrics.source")


def _section(env: Environment, name: str) -> Any:
    """The ``metrics.NAME`` section (``prometheus:`` for Prometheus), or a clear refusal."""
    section = env.prometheus if name == "prometheus" else getattr(env.metrics, name)
    if section is None:
        key = "prometheus" if name == "prometheus" else f"metrics.{name}"
        raise ParameterError(
            f"metrics.source is {name} but there is no {name}: section",
            source=env.source_file or env.name,
            key=key,
        )
    return section


def _prometheus(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.prometheus import PrometheusSource
    from sreworkbook.sources.prometheus_panels import PrometheusBackend

    config = _section(env, "prometheus")
    client = PrometheusSource.from_config(config, environ, session=session)
    return PrometheusBackend(client, job=config.job)


def _saas(module: str, backend: str, name: str) -> MetricsFactory:
    """The factory of an HTTP backend (``module.backend.from_config``), imported when used."""

    def build(
        env: Environment, environ: Mapping[str, str], session: requests.Session | None
    ) -> MetricsBackend:
        kind = getattr(importlib.import_module(f"sreworkbook.sources.{module}"), backend)
        built: MetricsBackend = kind.from_config(_section(env, name), environ, session=session)
        return built

    return build


def _files(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.files import FilesBackend

    return FilesBackend(_section(env, "files").path)


def default_metrics_registry() -> MetricsRegistry:
    """The stores the workbook ships (imported only when their backend is built)."""
    registry = MetricsRegistry()
    registry.register("prometheus", _prometheus)
    registry.register("newrelic", _saas("newrelic", "NewRelicBackend", "newrelic"))
    registry.register("datadog", _saas("datadog", "DatadogBackend", "datadog"))
    registry.register("elastic", _saas("elastic", "ElasticBackend", "elastic"))
    registry.register("files", _files)
    return registry


def backend_for(
    env: Environment,
    environ: Mapping[str, str],
    *,
    session: requests.Session | None = None,
    registry: MetricsRegistry | None = None,
) -> MetricsBackend:
    """The metrics backend ``env.metrics.source`` names, its credentials resolved now."""
    chosen = registry or default_metrics_registry()
    factory = chosen.get(env.metrics.source, source=env.source_file or env.name)
    return factory(env, environ, session)
