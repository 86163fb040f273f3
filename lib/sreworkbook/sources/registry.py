"""Which metrics store an environment's dashboards read: one registry of metrics backends.

``metrics.source`` names an entry (``prometheus``, ``newrelic``, ``datadog``, ``elastic``,
``files``); its factory builds a :class:`~sreworkbook.sources.panels.MetricsBackend` from
the environment, resolving the ``${ENV}`` references it needs now. An unknown name is refused
with the known ones. A new store is a module under ``sources/`` meeting the contract, a config
section, and one ``register`` in :func:`default_metrics_registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.sources.panels import MetricsBackend

__all__ = ["MetricsFactory", "MetricsRegistry", "backend_for", "default_metrics_registry"]

#: Builds a backend for an environment: (env, environ, session) → backend.
MetricsFactory = Callable[[Environment, Mapping[str, str], requests.Session | None], MetricsBackend]


class MetricsRegistry:
    """Metrics backends by the name ``metrics.source`` gives them."""

    def __init__(self) -> None:
        self._factories: dict[str, MetricsFactory] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def register(self, name: str, factory: MetricsFactory) -> None:
        self._factories[name] = factory

    def get(self, name: str, *, source: str | None = None) -> MetricsFactory:
        """The factory for ``name``; an unknown name is refused with the known ones."""
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(self.names) or "none"
            raise ParameterError(
                f"unknown metrics source {name!r}, did you mean one of: {known}",
                source=source,
                key="metrics.source",
            ) from None


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


def _newrelic(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.newrelic import NewRelicBackend

    return NewRelicBackend.from_config(_section(env, "newrelic"), environ, session=session)


def _datadog(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.datadog import DatadogBackend

    return DatadogBackend.from_config(_section(env, "datadog"), environ, session=session)


def _elastic(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.elastic import ElasticBackend

    return ElasticBackend.from_config(_section(env, "elastic"), environ, session=session)


def _files(
    env: Environment, environ: Mapping[str, str], session: requests.Session | None
) -> MetricsBackend:
    from sreworkbook.sources.files import FilesBackend

    return FilesBackend(_section(env, "files").path)


def default_metrics_registry() -> MetricsRegistry:
    """The stores the workbook ships (imported only when their backend is built)."""
    registry = MetricsRegistry()
    registry.register("prometheus", _prometheus)
    registry.register("newrelic", _newrelic)
    registry.register("datadog", _datadog)
    registry.register("elastic", _elastic)
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
