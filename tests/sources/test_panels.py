"""Every metrics backend refuses a panel it does not know, naming the ones it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.config import DatadogConfig, ElasticConfig, NewRelicConfig
from sreworkbook.sources.datadog import DatadogBackend
from sreworkbook.sources.elastic import ElasticBackend
from sreworkbook.sources.files import FilesBackend
from sreworkbook.sources.newrelic import NewRelicBackend
from sreworkbook.sources.panels import PANELS, ROUTE_PANELS
from sreworkbook.sources.prometheus import PrometheusSource
from sreworkbook.sources.prometheus_panels import PrometheusBackend

START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
UNUSED = "http://127.0.0.1:9"


def _files(tmp_path: Path) -> Any:
    export = tmp_path / "export.csv"
    export.write_text("panel,timestamp,series,value\nrpm,2026-11-03T10:01:00Z,all,1\n")
    return FilesBackend(str(export))


BACKENDS = {
    "prometheus": lambda tmp: PrometheusBackend(PrometheusSource(UNUSED), job="j"),
    "newrelic": lambda tmp: NewRelicBackend(NewRelicConfig(account_id=1, api_key="k"), {}),
    "datadog": lambda tmp: DatadogBackend(DatadogConfig(api_key="a", app_key="b"), {}),
    "elastic": lambda tmp: ElasticBackend(ElasticConfig(url=UNUSED), {}),
    "files": _files,
}


@pytest.mark.parametrize("kind", sorted(BACKENDS))
def test_an_unknown_panel_is_refused_with_the_valid_ones(kind: str, tmp_path: Path) -> None:
    backend = BACKENDS[kind](tmp_path)
    with pytest.raises(ValueError, match="unknown panel 'p95'") as caught:
        backend.panel("p95", START, END, 60)
    assert all(name in str(caught.value) for name in (*PANELS, *ROUTE_PANELS))
